//! The service under test: the real `tradehook` binary (built by Cargo in the bench's
//! own profile), started as a child process on a configuration written for the run,
//! with its own SQLite database, listening on a loopback port it chooses itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use std::io::Read as _;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::http::{Conn, Prepared};
use crate::signing::{AUDIT_TOKEN, PAIRS, SECRET, SOURCE};

/// The binary Cargo built for this bench (release-like under `cargo bench`, debug
/// under `cargo test`).
pub const BINARY: &str = env!("CARGO_BIN_EXE_tradehook");

/// `RUST_LOG` for the services started (`--service-log`); unset by default, so they
/// log as an operator's would (`info`).
pub static SERVICE_LOG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A file that gets everything the services log (`--service-log-file`); none by default.
pub static SERVICE_LOG_FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Where the service sends orders.
pub enum Exchange {
    /// Paper mode, offline (`paper_market_data = false`).
    Paper,
    /// Live mode against a (fake) Kraken at `url`, with these credentials, which are
    /// passed through the environment as an operator would.
    Live {
        url: String,
        key: String,
        secret: String,
        /// More `[exchange]` lines (the WebSocket runs: `transport`, `kraken_ws_url`).
        extra: String,
    },
}

/// Writes the configuration for a service on `db` into `dir`; returns its path.
pub fn write_config(dir: &Path, db: &Path, exchange: &Exchange) -> anyhow::Result<PathBuf> {
    let exchange_section = match exchange {
        Exchange::Paper => "mode = \"paper\"\npaper_market_data = false\n".to_owned(),
        // Pro tier: the 1,000/s burst of the issue is within Kraken's Pro limits.
        Exchange::Live { url, extra, .. } => {
            format!("mode = \"live\"\nkraken_url = \"{url}\"\ntier = \"pro\"\n{extra}")
        }
    };
    let pairs: Vec<String> = PAIRS.iter().map(|p| format!("\"{p}\"")).collect();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\naudit_token = \"{AUDIT_TOKEN}\"\n\
         # Ingress limiting off, so it never shapes the measurement.\n\
         rate_limit_per_minute = 0\n\
         # Nor the connection caps (the total is still fitted to the open-file limit).\n\
         max_connections = 100000\nmax_connections_per_ip = 100000\n\n\
         [database]\nurl = \"sqlite://{db}\"\n\n\
         [exchange]\n{exchange_section}\n\
         [[sources]]\nname = \"{SOURCE}\"\nauth = \"hmac\"\nsecret = \"{SECRET}\"\n\n\
         [risk]\nallowed_pairs = [{pairs}]\n",
        db = db.display(),
        pairs = pairs.join(", "),
    );
    let path = dir.join("tradehook.toml");
    std::fs::write(&path, toml).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Runs `tradehook migrate` on the database of `config`.
pub async fn migrate(config: &Path) -> anyhow::Result<()> {
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .arg("migrate")
        .env_remove("TRADEHOOK_CONFIG")
        .stdin(Stdio::null())
        .output()
        .await
        .context("running tradehook migrate")?;
    if !output.status.success() {
        bail!(
            "tradehook migrate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A running `tradehook serve`; killed when dropped.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    /// From spawning the process to `/readyz` answering `200`.
    pub startup: Duration,
    /// The last lines it logged, for error messages.
    tail: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts the binary on `config` and waits (at most 60 s) until it is ready.
    pub async fn start(config: &Path, exchange: &Exchange) -> anyhow::Result<Service> {
        let mut command = Command::new(BINARY);
        command
            .args(["--log-format", "json", "serve", "--config"])
            .arg(config)
            .env_remove("TRADEHOOK_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(filter) = SERVICE_LOG.get() {
            // The "listening" line is how the bench learns the port: keep it.
            command.env("RUST_LOG", format!("{filter},tradehook::app=info"));
        }
        if let Exchange::Live { key, secret, .. } = exchange {
            command
                .env("KRAKEN_API_KEY", key)
                .env("KRAKEN_API_SECRET", secret);
        }
        let spawned = Instant::now();
        let mut child = command.spawn().context("starting tradehook serve")?;
        let pid = child.id().context("the child has no pid")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(stderr);
        let addr = tokio::time::timeout(Duration::from_secs(60), listening(&mut lines, &tail))
            .await
            .context("tradehook did not listen within 60 s")??;
        drain(lines, tail.clone())?;
        let ready = Prepared::get("/readyz");
        let mut conn = Conn::open(addr).await?;
        loop {
            if conn.send(&ready).await?.status == 200 {
                break;
            }
            if spawned.elapsed() > Duration::from_secs(60) {
                bail!("tradehook not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Service {
            child,
            addr,
            pid,
            startup: spawned.elapsed(),
            tail,
        })
    }

    /// Peak resident memory so far, in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        crate::proc::peak_rss_kb(self.pid).ok()
    }

    /// The last lines it logged.
    pub fn log_tail(&self) -> String {
        self.tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Stops it with SIGTERM, so in-flight orders finish and the next start on the
    /// same database has nothing to recover (after a SIGKILL, paper orders left
    /// `pending` hold `/readyz` back until their deadline has passed). SIGKILL if it
    /// is not gone within 30 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "tradehook had exited early ({status}):\n{}",
                self.log_tail()
            );
        }
        let term = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if term.is_ok_and(|s| s.success()) {
            let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
            if let Ok(status) = exited {
                let status = status.context("waiting for tradehook")?;
                if !status.success() {
                    bail!("tradehook stopped with {status}:\n{}", self.log_tail());
                }
                return Ok(());
            }
        }
        self.child.kill().await.context("killing tradehook")?;
        Ok(())
    }
}

const TAIL_LINES: usize = 40;

fn keep(tail: &Mutex<Vec<String>>, line: String) {
    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
    if tail.len() == TAIL_LINES {
        tail.remove(0);
    }
    tail.push(line);
}

/// Reads the log until the "tradehook listening" line; returns its address.
async fn listening(
    lines: &mut BufReader<tokio::process::ChildStderr>,
    tail: &Mutex<Vec<String>>,
) -> anyhow::Result<SocketAddr> {
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.context("reading logs")? == 0 {
            let logged = tail.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
            bail!("tradehook exited before listening:\n{logged}");
        }
        keep(tail, line.trim_end().to_owned());
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "tradehook listening" {
            let addr = entry["fields"]["address"].as_str().unwrap_or_default();
            return addr
                .parse()
                .with_context(|| format!("listening address {addr:?}"));
        }
    }
}

/// Keeps reading the log so the child never blocks on a full pipe. On an OS thread of
/// its own, with blocking reads in big chunks: a flood of refused signals logs a line
/// each, and a reader that fell behind (say, on a busy load-generator runtime) would
/// stall the service's logging and so the service. Keeps only the tail.
fn drain(
    lines: BufReader<tokio::process::ChildStderr>,
    tail: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<()> {
    let fd = lines.into_inner().into_owned_fd().context("the log pipe")?;
    let mut pipe = std::fs::File::from(fd);
    let mut copy = match SERVICE_LOG_FILE.get() {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => None,
    };
    std::thread::Builder::new()
        .name("service-logs".into())
        .spawn(move || {
            let mut buffer = vec![0u8; 256 * 1024];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                if let Some(file) = copy.as_mut() {
                    // A copy for the operator of the bench; losing it loses no result.
                    let _ = std::io::Write::write_all(file, &buffer[..n]);
                }
                let text = String::from_utf8_lossy(&buffer[..n]);
                let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
                for line in &lines[lines.len().saturating_sub(5)..] {
                    keep(&tail, (*line).to_owned());
                }
            }
        })
        .context("the log reader thread")?;
    Ok(())
}
