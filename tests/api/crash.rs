//! Crash recovery with the built binary: `tradehook serve` runs as a child process in
//! live mode against the fake Kraken, is killed with SIGKILL at the worst moments, and
//! is started again on the same database.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::*;
use crate::support::fake_kraken::{Behaviour, FakeKraken};
use crate::support::fake_kraken_ws::{filled, trade, FakeKrakenWs};

/// A `tradehook serve` child process; killed if the test ends early.
struct Service {
    child: Child,
    address: String,
    client: reqwest::Client,
    /// Everything it logged so far.
    logs: Arc<Mutex<String>>,
}

/// Writes a live-mode configuration for the fake into `dir`; the Kraken credentials
/// are passed the way operators pass them, through the environment.
fn write_config(dir: &Path, kraken: &FakeKraken, deadline_secs: u64) -> std::path::PathBuf {
    let path = dir.join("live.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\naudit_token = \"{AUDIT_TOKEN}\"\n\n\
         [database]\nurl = \"sqlite://{db}\"\n\n\
         [exchange]\nmode = \"live\"\nkraken_url = \"{url}\"\ndeadline_secs = {deadline_secs}\n\
         executions_feed = false\n\n\
         [[sources]]\nname = \"hook\"\nauth = \"hmac\"\nsecret = \"{HMAC_SECRET}\"\n\n\
         [risk]\nallowed_pairs = [\"XBTUSD\"]\n",
        db = dir.join("tradehook.db").display(),
        url = kraken.url(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

impl Service {
    /// Starts the binary on `config` and waits until it listens.
    async fn start(config: &Path, kraken: &FakeKraken) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tradehook"))
            .args(["--log-format", "json", "serve", "--config"])
            .arg(config)
            .env_remove("TRADEHOOK_CONFIG")
            .env("KRAKEN_API_KEY", kraken.api_key())
            .env("KRAKEN_API_SECRET", kraken.api_secret())
            .env("RUST_LOG", "info,tradehook=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let logs = Arc::new(Mutex::new(String::new()));
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                logs.lock().unwrap().push_str(&line);
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
        // Keep reading the logs so the child never blocks on a full pipe.
        tokio::spawn({
            let logs = logs.clone();
            async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().unwrap().push_str(&line);
                }
            }
        });
        Service {
            child,
            address: format!("http://{address}"),
            client: reqwest::Client::new(),
            logs,
        }
    }

    /// Posts a signed market buy; returns its client order ID.
    async fn post_buy(&self, webhook_id: &str) -> String {
        let body = market_buy("0.01");
        let mut request = self
            .client
            .post(format!("{}/v1/signals/hook", self.address))
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in signed_headers(webhook_id, &body) {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 202);
        let accepted: Value = response.json().await.unwrap();
        accepted["client_order_id"].as_str().unwrap().to_owned()
    }

    /// The order as the audit API shows it.
    async fn get_order(&self, id: &str) -> Value {
        self.client
            .get(format!("{}/v1/orders/{id}", self.address))
            .bearer_auth(AUDIT_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls the audit API until the order is final.
    async fn wait_final(&self, id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let order = self.get_order(id).await;
            if !["pending", "unknown"].contains(&order["status"].as_str().unwrap()) {
                return order;
            }
            assert!(started.elapsed() < limit, "still not final: {order}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown code runs. Returns what it logged.
    async fn kill(mut self) -> String {
        self.child.kill().await.expect("SIGKILL delivered");
        let logs = self.logs.lock().unwrap().clone();
        logs
    }
}

/// The order's status as the database in `dir` holds it, read while no service runs.
async fn stored_status(dir: &TempDir, id: &str) -> String {
    let url = format!("sqlite://{}", dir.path().join("tradehook.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let status = sqlx::query_scalar("SELECT status FROM orders WHERE client_order_id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    status
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < Duration::from_secs(15), "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A service killed while its one order was in flight, and what it left behind.
struct Crashed {
    kraken: FakeKraken,
    /// Holds the database and the configuration; deleted when the test ends.
    _dir: TempDir,
    config: std::path::PathBuf,
    /// The order in flight at the kill.
    id: String,
    /// Every nonce Kraken had seen by then.
    nonces_before_crash: Vec<u64>,
    logs: String,
}

/// Runs the binary on a fake scripted with `behaviour`, posts one market buy, and
/// kills the process with SIGKILL as soon as `in_flight` holds at the fake.
async fn crash_while(
    behaviour: Behaviour,
    deadline_secs: u64,
    in_flight: impl Fn(&FakeKraken) -> bool,
) -> Crashed {
    let kraken = FakeKraken::start().await;
    kraken.script(behaviour);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &kraken, deadline_secs);

    let service = Service::start(&config, &kraken).await;
    let id = service.post_buy("msg_before_crash").await;
    wait_until("the order is in flight", || in_flight(&kraken)).await;
    let logs = service.kill().await;
    let nonces_before_crash = kraken.nonces();
    assert_eq!(stored_status(&dir, &id).await, "pending");
    Crashed {
        kraken,
        _dir: dir,
        config,
        id,
        nonces_before_crash,
        logs,
    }
}

impl Crashed {
    /// Starts the binary again on the same database.
    async fn restart(&self) -> Service {
        Service::start(&self.config, &self.kraken).await
    }

    /// Every nonce Kraken saw after the crash is above every one it saw before, and
    /// none was ever refused.
    fn assert_nonces_kept_rising(&self) {
        let all = self.kraken.nonces();
        let before = &self.nonces_before_crash;
        let after = &all[before.len()..];
        assert!(!after.is_empty(), "the restarted service called Kraken");
        let last_before = before.iter().max().copied().unwrap_or(0);
        assert!(
            after.iter().all(|nonce| *nonce > last_before),
            "a nonce went backwards across the restart: {last_before} then {after:?}"
        );
        assert!(all.windows(2).all(|pair| pair[0] < pair[1]), "{all:?}");
        assert_eq!(self.kraken.invalid_nonces(), 0);
    }
}

#[tokio::test]
async fn killed_after_kraken_accepted_but_before_the_answer_the_restart_finds_it_placed() {
    let crashed = crash_while(Behaviour::AcceptThenHold, 10, |kraken| kraken.held() == 1).await;
    let (kraken, id) = (&crashed.kraken, crashed.id.as_str());

    let second = crashed.restart().await;
    let order = second.wait_final(id, Duration::from_secs(20)).await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(kraken.order_count(), 1, "{:?}", kraken.orders());
    let held = kraken.order_by_cl_ord_id(id).unwrap();
    assert_eq!(order["txid"], held.txid.as_str());
    assert_eq!(
        kraken.calls("AddOrder"),
        1,
        "recovery looks up, never resends"
    );
    crashed.assert_nonces_kept_rising();

    // The restarted service is fully usable: a new signal is placed too.
    let next = second.post_buy("msg_after_restart").await;
    let order = second.wait_final(&next, Duration::from_secs(10)).await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(kraken.order_count(), 2);
    let logs = format!("{}{}", crashed.logs, second.kill().await);
    assert!(logs.contains("tradehook listening"), "logs were captured");
    for secret in [kraken.api_key(), kraken.api_secret(), HMAC_SECRET] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn killed_before_the_order_reached_kraken_the_restart_finds_it_expired() {
    let on_its_way = |kraken: &FakeKraken| kraken.calls("AddOrder") == 1;
    let crashed = crash_while(Behaviour::Blackhole, 3, on_its_way).await;
    let (kraken, id) = (&crashed.kraken, crashed.id.as_str());

    let second = crashed.restart().await;
    // A signal arriving while recovery runs is accepted and recorded, but not sent
    // until every order the crash left behind is settled.
    let newcomer = second.post_buy("msg_during_recovery").await;
    loop {
        let add_order_calls = kraken.calls("AddOrder");
        let order = second.get_order(id).await;
        if !["pending", "unknown"].contains(&order["status"].as_str().unwrap()) {
            break;
        }
        assert_eq!(add_order_calls, 1, "a new order was sent during recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order = second.wait_final(id, Duration::from_secs(30)).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert!(order["txid"].is_null());
    assert!(kraken.order_by_cl_ord_id(id).is_none());
    assert!(kraken.calls("OpenOrders") >= 1, "recovery looked it up");

    let newcomer = second.wait_final(&newcomer, Duration::from_secs(10)).await;
    assert_eq!(newcomer["status"], "placed", "{newcomer}");
    assert!(
        newcomer
            .to_string()
            .contains("sending now with a new deadline"),
        "{newcomer}"
    );
    assert_eq!(kraken.order_count(), 1, "only the newcomer is at Kraken");
    assert_eq!(
        kraken.calls("AddOrder"),
        2,
        "the order that may have left was not resent"
    );
    crashed.assert_nonces_kept_rising();
    second.kill().await;
}

#[tokio::test]
async fn killed_between_a_fill_and_its_record_the_restart_records_it_once() {
    let kraken = FakeKraken::start().await;
    let ws = FakeKrakenWs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &kraken, 5);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "executions_feed = false",
        &format!("executions_feed = true\nkraken_ws_url = \"{}\"", ws.url),
    );
    std::fs::write(&config, text).unwrap();

    let service = Service::start(&config, &kraken).await;
    wait_until("the feed subscribes", || ws.subscriptions().0 >= 1).await;
    let id = service.post_buy("msg_fill_crash").await;
    // The fake closes a market order at once: a resync may already record it
    // `filled` (Kraken's QueryOrders says closed) before its trade arrives.
    let order = service.wait_final(&id, Duration::from_secs(15)).await;
    assert!(
        ["placed", "filled"].contains(&order["status"].as_str().unwrap()),
        "{order}"
    );
    // SIGKILL, then the order trades and completes on the exchange: the fill
    // happened, its record did not.
    service.kill().await;
    ws.push(trade(&id, "TK-CRASH", 0.01, 50000.0, "filled"));
    ws.push(filled(&id));
    assert_eq!(stored_fills(&dir).await, 0);

    let service = Service::start(&config, &kraken).await;
    let started = Instant::now();
    let order = loop {
        let order = service.get_order(&id).await;
        if order["status"] == "filled" && order["filled_volume"] == "0.01" {
            break order;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not filled after restart: {order}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let fills = order["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["cause"]
                .as_str()
                .unwrap_or("")
                .starts_with("fill TK-CRASH")
        })
        .count();
    assert_eq!(fills, 1, "{order}");
    assert_eq!(order["filled_volume"], "0.01");
    // A third start sees the same trade in its snapshot again: still one fill.
    service.kill().await;
    let service = Service::start(&config, &kraken).await;
    wait_until("the feed subscribes a third time", || {
        ws.subscriptions().0 >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    service.kill().await;
    assert_eq!(stored_fills(&dir).await, 1);
}

/// How many fills the database in `dir` holds, read while no service runs.
async fn stored_fills(dir: &TempDir) -> i64 {
    let url = format!("sqlite://{}", dir.path().join("tradehook.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM fills")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}
