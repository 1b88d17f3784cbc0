//! One service per database, with the built binary: a second `tradehook serve` (or a
//! `migrate`) on a database in use exits at once naming the holder's PID; read-only
//! commands still work; after the holder is killed with SIGKILL a new one starts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A paper-mode configuration on a database in `dir`, offline (no Kraken market data).
fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("paper.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n\
         [database]\nurl = \"sqlite://{}\"\n\n\
         [exchange]\npaper_market_data = false\n",
        dir.join("tradehook.db").display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tradehook"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TRADEHOOK_CONFIG")
        .env("RUST_LOG", "info")
        .kill_on_drop(true);
    command
}

/// Starts `serve` and waits until it listens.
async fn serve(config: &Path) -> Child {
    let mut child = command(config, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("tradehook listening") {
                return;
            }
        }
        panic!("tradehook exited before listening");
    })
    .await
    .expect("tradehook listens within 30 s");
    // Keep draining its logs so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// Runs a command to its end; returns whether it succeeded, its stderr, and how long
/// it took.
async fn run(config: &Path, args: &[&str]) -> (bool, String, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(30), command(config, args).output())
        .await
        .expect("the command ends")
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr, started.elapsed())
}

#[tokio::test]
async fn a_second_instance_on_one_database_exits_at_once_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut first = serve(&config).await;
    let pid = first.id().expect("running").to_string();

    let (ok, stderr, took) = run(&config, &["serve"]).await;
    assert!(!ok, "a second serve started: {stderr}");
    assert!(stderr.contains(&format!("PID {pid}")), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?} to refuse");
    let (ok, stderr, _) = run(&config, &["migrate"]).await;
    assert!(!ok, "migrate ran beside a running service");
    assert!(stderr.contains(&format!("PID {pid}")), "{stderr}");
    // Read-only commands are not blocked.
    let (ok, stderr, _) = run(&config, &["check-config"]).await;
    assert!(ok, "{stderr}");
    let (ok, stderr, _) = run(&config, &["audit"]).await;
    assert!(ok, "{stderr}");

    // SIGKILL runs no clean-up; the kernel still drops the lock with the process.
    first.kill().await.expect("SIGKILL delivered");
    let lock = dir.path().join("tradehook.db.lock");
    assert!(lock.exists(), "the lock file stays behind");
    let mut second = serve(&config).await;
    let contents = std::fs::read_to_string(&lock).unwrap();
    assert_eq!(contents.trim(), second.id().unwrap().to_string());
    second.kill().await.unwrap();
}
