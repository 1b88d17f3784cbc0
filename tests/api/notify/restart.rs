//! A kill -9 with notifications still undelivered: after the restart, all of them go
//! out, each once. The service runs as the built binary, in paper mode.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::delivery::delivered_ids;
use super::*;
use crate::support::receiver::Receiver;

/// A `tradehook serve` child in paper mode; killed if the test ends early.
struct Service {
    child: Child,
    address: String,
}

fn write_config(dir: &Path, receiver_url: &str) -> std::path::PathBuf {
    let path = dir.join("notify.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\naudit_token = \"{AUDIT_TOKEN}\"\n\n\
         [database]\nurl = \"sqlite://{db}\"\n\n\
         [exchange]\nmode = \"paper\"\npaper_market_data = false\n\n\
         [[sources]]\nname = \"hook\"\nauth = \"hmac\"\nsecret = \"{HMAC_SECRET}\"\n\n\
         [risk]\nallowed_pairs = [\"XBTUSD\"]\n\n\
         [notifications]\npoll_ms = 50\nretry_initial_secs = 1\nretry_max_secs = 2\ntimeout_secs = 2\n\n\
         [[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{receiver_url}/hooks\"\n\
         secret_file = \"{secret}\"\n",
        db = dir.join("tradehook.db").display(),
        secret = dir.join("webhook.secret").display(),
    );
    std::fs::write(dir.join("webhook.secret"), format!("{WEBHOOK_SECRET}\n")).unwrap();
    std::fs::write(&path, toml).unwrap();
    path
}

impl Service {
    async fn start(config: &Path) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tradehook"))
            .args(["--log-format", "json", "serve", "--config"])
            .arg(config)
            .env_remove("TRADEHOOK_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if entry["fields"]["message"] == "tradehook listening" {
                    return entry["fields"]["address"].as_str().unwrap().to_owned();
                }
            }
            panic!("tradehook exited before listening");
        })
        .await
        .expect("tradehook listens within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Service {
            child,
            address: format!("http://{address}"),
        }
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.address))
            .bearer_auth(AUDIT_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post_buy(&self, webhook_id: &str) {
        let body = market_buy("0.01");
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/signals/hook", self.address))
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in signed_headers(webhook_id, &body) {
            request = request.header(name, value);
        }
        assert_eq!(request.send().await.unwrap().status(), 202);
    }
}

#[tokio::test]
async fn kill_9_with_undelivered_notifications_then_restart_delivers_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start().await;
    receiver.stop().await;
    let config = write_config(dir.path(), &receiver.url());
    let mut service = Service::start(&config).await;
    for i in 0..5 {
        service.post_buy(&format!("msg_kill_{i}")).await;
    }
    let started = Instant::now();
    let stored = loop {
        let page = service.get("/v1/notifications?status=pending").await;
        let pending = page["notifications"].as_array().unwrap().clone();
        // startup + 5 × order_placed
        if pending.len() == 6 {
            break pending;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    service.child.kill().await.expect("SIGKILL delivered");

    receiver.restart().await;
    let service = Service::start(&config).await;
    let ids: Vec<&str> = stored.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let received = receiver
        .wait_for(Duration::from_secs(30), |r| {
            let delivered = delivered_ids(r);
            ids.iter().all(|id| delivered.contains_key(*id))
        })
        .await;
    for delivery in &received {
        verified(delivery);
    }
    let delivered = delivered_ids(&received);
    for id in &ids {
        assert_eq!(delivered[*id], 1, "{id} once");
    }
    assert_eq!(of_type(&received, "order_placed").len(), 5);
    drop(service);
}
