//! `/metrics` of the service in live mode against the fake Kraken: the client-side
//! rate-limit model's headroom, read at each scrape.

mod support;

use std::collections::BTreeMap;

use tempfile::TempDir;
use tokio::net::TcpListener;

use support::fake_kraken::{Behaviour, FakeKraken};
use tradehook::app::{App, Overrides};
use tradehook::config::{AuthKind, Config, Mode, SourceConfig};
use tradehook::secret::Secret;

const PASSPHRASE: &str = "metrics-passphrase-0123456789";
const PRIVATE: &str = r#"{counter="private"}"#;
const XBTUSD: &str = r#"{counter="trading",pair="XBTUSD"}"#;

/// The service, live against a fake Kraken, on 127.0.0.1 with its own database.
struct Running {
    address: String,
    client: reqwest::Client,
    kraken: FakeKraken,
    _dir: TempDir,
}

/// Builds the service from its configuration (no overrides: the real Kraken client
/// against `kraken`) with a token source `tv` and a position limit on XBT, so a
/// signal for XBTUSD reads the balance (a private call) before it is sent.
async fn start(kraken: FakeKraken) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("test.db").display());
    config.exchange = kraken.exchange_config(Mode::Live);
    config.sources = vec![SourceConfig {
        name: "tv".into(),
        auth: AuthKind::Token,
        secret: Some(Secret::new(PASSPHRASE)),
        secret_file: None,
        allowed_ips: vec![],
        allowed_pairs: None,
        allowed_order_types: None,
        max_orders_per_minute: None,
    }];
    config.risk.allowed_pairs = vec!["XBTUSD".into()];
    config
        .risk
        .max_position
        .insert("XBT".into(), "10".parse().unwrap());
    config.server.rate_limit_per_minute = None;
    config.validate().unwrap();
    let app = App::build(config, Overrides::default()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.serve(listener, std::future::pending()));
    Running {
        address,
        client: reqwest::Client::new(),
        kraken,
        _dir: dir,
    }
}

impl Running {
    /// Every `tradehook_kraken_rate_limit_{headroom,max}` sample: labels → value.
    async fn rate_limit_gauges(&self) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
        let scrape = reqwest::get(format!("{}/metrics", self.address)).await;
        let text = scrape.unwrap().text().await.unwrap();
        let samples = |name: &str| -> BTreeMap<String, f64> {
            text.lines()
                .filter_map(|line| line.strip_prefix(name))
                .filter(|rest| rest.starts_with('{'))
                .map(|rest| {
                    let (labels, value) = rest.split_once(' ').unwrap();
                    (labels.to_owned(), value.parse().unwrap())
                })
                .collect()
        };
        (
            samples("tradehook_kraken_rate_limit_headroom"),
            samples("tradehook_kraken_rate_limit_max"),
        )
    }

    /// Posts a market buy of 0.01 XBTUSD and waits until its order is final.
    async fn buy(&self) -> serde_json::Value {
        let body = format!(
            r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.01","passphrase":"{PASSPHRASE}"}}"#
        );
        let response = self
            .client
            .post(format!("{}/v1/signals/tv?wait=10", self.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn the_private_counter_starts_with_its_whole_headroom_and_a_signal_spends_some() {
    let app = start(FakeKraken::start().await).await;
    let (headroom, max) = app.rate_limit_gauges().await;
    assert_eq!(max[PRIVATE], 15.0, "a Starter key: {max:?}");
    assert_eq!(headroom[PRIVATE], max[PRIVATE], "nothing called yet");
    assert!(!headroom.contains_key(XBTUSD), "{headroom:?}");

    let order = app.buy().await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(app.kraken.order_count(), 1);
    assert_eq!(
        app.kraken.calls("Balance"),
        1,
        "the position rule's balance"
    );

    // `Balance` took one unit of the REST counter (AddOrder takes none of it), and
    // one unit decays in about three seconds on a Starter key.
    let (headroom, max) = app.rate_limit_gauges().await;
    assert_eq!(max[PRIVATE], 15.0);
    let private = headroom[PRIVATE];
    assert!((14.0..15.0).contains(&private), "{headroom:?}");
}

#[tokio::test]
async fn a_rate_limit_refusal_leaves_the_pair_little_trading_headroom() {
    let kraken = FakeKraken::start().await;
    kraken.script(Behaviour::Refuse("EAPI:Rate limit exceeded".into()));
    let app = start(kraken).await;

    // Refused, so the model fills XBTUSD's counter to one below the threshold; the
    // retry waits for a unit to decay, is placed, and takes that unit again. From
    // there a Starter key regains one unit a second, so the headroom stays far below
    // the threshold for much longer than this test runs.
    let order = app.buy().await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(app.kraken.calls("AddOrder"), 2);

    let (headroom, max) = app.rate_limit_gauges().await;
    assert_eq!(max[XBTUSD], 60.0, "a Starter key's threshold: {max:?}");
    assert!(headroom[XBTUSD] < max[XBTUSD] / 2.0, "{headroom:?}");
}
