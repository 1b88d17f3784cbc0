//! Test harness: the real app on 127.0.0.1:0 with its own temporary database, on a
//! scriptable paper exchange or on the fake Kraken, and helpers to sign and post
//! signals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Response;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tradehook::app::{App, Overrides};
use tradehook::config::{AuthKind, Config, ExchangeConfig, SourceConfig};
use tradehook::exchange::paper::PaperExchange;
use tradehook::exchange::Exchange;
use tradehook::ingress::standard_webhooks;
use tradehook::pairs::PairTable;
use tradehook::secret::Secret;

pub const HMAC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const PASSPHRASE: &str = "tv-passphrase-0123456789";
pub const AUDIT_TOKEN: &str = "audit-token-0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";

/// A running app and what a test needs to drive it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The paper exchange, unless the app runs on (fake) Kraken.
    paper: Option<Arc<PaperExchange>>,
    pub db_url: String,
    dir: TempDir,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The configuration every test starts from: an `hmac` source `hook`, a `token`
/// source `tv`, XBTUSD and ETHUSD allowed.
pub fn base_config(db_url: &str) -> Config {
    let mut config = Config::default();
    config.database.url = db_url.to_owned();
    config.server.audit_token = Some(Secret::new(AUDIT_TOKEN));
    config.server.admin_token = Some(Secret::new(ADMIN_TOKEN));
    config.sources = vec![
        SourceConfig {
            name: "hook".into(),
            auth: AuthKind::Hmac,
            secret: Some(Secret::new(HMAC_SECRET)),
            secret_file: None,
            allowed_ips: vec![],
            allowed_pairs: None,
            allowed_order_types: None,
            max_orders_per_minute: None,
            require_client_cert: None,
            format: Default::default(),
            max_signals_per_minute: None,
        },
        SourceConfig {
            name: "tv".into(),
            auth: AuthKind::Token,
            secret: Some(Secret::new(PASSPHRASE)),
            secret_file: None,
            allowed_ips: vec![],
            allowed_pairs: None,
            allowed_order_types: None,
            max_orders_per_minute: None,
            require_client_cert: None,
            format: Default::default(),
            max_signals_per_minute: None,
        },
    ];
    config.risk.allowed_pairs = vec!["XBTUSD".into(), "ETHUSD".into()];
    config.server.rate_limit_per_minute = None;
    config
}

/// Starts the app with the base configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after `adjust` has changed the base configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temp dir"), adjust).await
}

/// Starts the app on the database in `dir` (new or left by an earlier app).
pub async fn spawn_app_in(dir: TempDir, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let paper = Arc::new(PaperExchange::new(PairTable::snapshot()));
    let overrides = Overrides {
        exchange: Some(paper.clone()),
        ..Overrides::default()
    };
    launch(dir, overrides, Some(paper), adjust).await
}

/// Starts the app on `exchange` (a scripted venue), on the database in `dir`.
pub async fn spawn_app_on_in(
    dir: TempDir,
    exchange: Arc<dyn Exchange>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let overrides = Overrides {
        exchange: Some(exchange),
        ..Overrides::default()
    };
    launch(dir, overrides, None, adjust).await
}

/// Starts the app in validate or live mode against the Kraken that `exchange` names
/// (the fake), building its own Kraken client exactly as `tradehook serve` does.
pub async fn spawn_app_on_kraken(
    exchange: ExchangeConfig,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let adjust = move |config: &mut Config| {
        config.exchange = exchange;
        adjust(config);
    };
    launch(dir, Overrides::default(), None, adjust).await
}

async fn launch(
    dir: TempDir,
    overrides: Overrides,
    paper: Option<Arc<PaperExchange>>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let db_url = format!("sqlite://{}", dir.path().join("test.db").display());
    let mut config = base_config(&db_url);
    adjust(&mut config);
    config.validate().expect("test config is valid");
    let app = App::build(config, overrides).await.expect("app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        paper,
        db_url,
        dir,
        shutdown,
        server,
    }
}

/// Standard Webhooks headers for `body`, signed now with `id`.
pub fn signed_headers(id: &str, body: &str) -> Vec<(&'static str, String)> {
    let key = standard_webhooks::decode_secret(HMAC_SECRET).unwrap();
    let ts = Utc::now().timestamp();
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        (
            "webhook-signature",
            standard_webhooks::sign(&key, id, ts, body.as_bytes()),
        ),
    ]
}

/// A market buy of `volume` XBTUSD.
pub fn market_buy(volume: &str) -> String {
    format!(r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"{volume}"}}"#)
}

impl TestApp {
    /// The paper exchange the app runs on; panics for an app on Kraken.
    pub fn paper(&self) -> &PaperExchange {
        self.paper
            .as_deref()
            .expect("this app runs on Kraken, not on the paper exchange")
    }

    /// Shuts the app down gracefully and hands back its database folder.
    pub async fn stop(self) -> TempDir {
        let _ = self.shutdown.send(());
        self.server
            .await
            .expect("server task")
            .expect("server stops cleanly");
        self.dir
    }

    /// POSTs to an admin endpoint with `token`; returns status and JSON body.
    pub async fn admin(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts `body` to the `hook` source, correctly signed, with webhook-id `id`.
    pub async fn post_hook(&self, id: &str, body: &str) -> Response {
        self.post_with_headers("hook", body, &signed_headers(id, body))
            .await
    }

    /// Like [`TestApp::post_hook`], returning only the status; owns its inputs so
    /// many can run at once.
    pub async fn post_hook_owned(&self, id: String, body: String) -> u16 {
        self.post_hook(&id, &body).await.status().as_u16()
    }

    /// Posts `body` with `?query`, correctly signed with a fresh webhook-id.
    pub async fn post_hook_query(&self, query: &str, body: &str) -> Response {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let mut request = self
            .client
            .post(format!("{}/v1/signals/hook?{query}", self.address))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in signed_headers(&id, body) {
            request = request.header(name, value);
        }
        request.send().await.unwrap()
    }

    /// Posts `body` to `source` with exactly these extra headers.
    pub async fn post_with_headers(
        &self,
        source: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> Response {
        let mut request = self
            .client
            .post(format!("{}/v1/signals/{source}", self.address))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.unwrap()
    }

    /// GET with the audit token; returns status and JSON body.
    pub async fn get_audit(&self, path: &str) -> (u16, Value) {
        self.get_audit_as(path, AUDIT_TOKEN).await
    }

    /// GET with `token`; returns status and JSON body.
    pub async fn get_audit_as(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Number of rows in `table`, read straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        let pool = sqlx::SqlitePool::connect(&self.db_url).await.unwrap();
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    /// Polls the order until its status is final; returns the detail view.
    pub async fn wait_final(&self, client_order_id: &str) -> Value {
        self.wait_final_within(client_order_id, Duration::from_secs(5))
            .await
    }

    /// Polls the order until its status is final, for at most `limit`.
    pub async fn wait_final_within(&self, client_order_id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let (_, order) = self
                .get_audit(&format!("/v1/orders/{client_order_id}"))
                .await;
            let status = order["status"].as_str().unwrap_or("");
            if !["pending", "unknown", ""].contains(&status) {
                return order;
            }
            assert!(
                started.elapsed() < limit,
                "order {client_order_id} still {status:?} after {limit:?}: {order}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
