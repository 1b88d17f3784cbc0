//! `tradehook notify test [NAME]` and `check-config` with channels configured.

use std::path::Path;

use super::*;
use crate::support::receiver::{Answer, Receiver};

const SLACK_TOKEN: &str = "slack-cli-TOKEN-secret";

fn write_config(dir: &Path, hook: &str, slack: &str) -> std::path::PathBuf {
    let path = dir.join("notify-cli.toml");
    let toml = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\n\
         [[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{hook}/hooks\"\nsecret = \"{WEBHOOK_SECRET}\"\n\n\
         [[notify]]\nname = \"desk\"\nkind = \"slack\"\nurl = \"{slack}/services/{SLACK_TOKEN}\"\n",
        db = dir.join("cli.db").display(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

async fn tradehook(config: &Path, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradehook"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TRADEHOOK_CONFIG")
        .output()
        .await
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn notify_test_sends_through_the_named_channel_and_prints_its_answer() {
    let (hook, slack) = (Receiver::start().await, Receiver::start().await);
    slack.always(Answer::Status(500));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &hook.url(), &slack.url());

    let (ok, stdout, stderr) = tradehook(&config, &["notify", "test", "ops"]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.starts_with("ops: delivered"), "{stdout}");
    assert!(stdout.contains("200"), "{stdout}");
    let received = hook.received();
    assert_eq!(received.len(), 1);
    let body = verified(&received[0]);
    assert_eq!(body["type"], "test");
    assert!(slack.received().is_empty(), "only the named channel");

    let (ok, stdout, stderr) = tradehook(&config, &["notify", "test", "desk"]).await;
    assert!(!ok);
    assert!(
        stdout.contains("desk: FAILED") && stdout.contains("HTTP 500"),
        "{stdout}"
    );
    assert!(stderr.contains("did not take"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains(SLACK_TOKEN));

    let (ok, _, stderr) = tradehook(&config, &["notify", "test", "nope"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("no channel named `nope`; configured: ops, desk"),
        "{stderr}"
    );

    let (ok, stdout, _) = tradehook(&config, &["notify", "test"]).await;
    assert!(!ok, "one of the two fails");
    assert_eq!(hook.received().len(), 2, "{stdout}");
}

#[tokio::test]
async fn check_config_redacts_channel_secrets_and_names_a_bad_channel_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    let (ok, stdout, stderr) = tradehook(&config, &["check-config"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("[[notify]]"), "{stdout}");
    assert!(
        !stdout.contains(SLACK_TOKEN) && !stdout.contains(WEBHOOK_SECRET),
        "{stdout}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[notify]]\nname = \"tg\"\nkind = \"telegram\"\nbot_token = \"123:abc\"\n",
    )
    .unwrap();
    let (ok, _, stderr) = tradehook(&bad, &["check-config"]).await;
    assert!(!ok);
    assert!(stderr.contains("notify[0].chat_id"), "{stderr}");

    let bad_event = dir.path().join("bad_event.toml");
    std::fs::write(
        &bad_event,
        "[[notify]]\nname = \"x\"\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/\"\nevents = [\"order_exploded\"]\n",
    )
    .unwrap();
    let (ok, _, stderr) = tradehook(&bad_event, &["check-config"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("notify") && stderr.contains("events"),
        "{stderr}"
    );
}
