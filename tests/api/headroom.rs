//! `/metrics` in live mode against the fake Kraken: the client-side rate-limit
//! model's headroom, read at each scrape.

use std::collections::BTreeMap;

use serde_json::Value;
use tradehook::config::Mode;

use crate::helpers::*;
use crate::support::fake_kraken::{Behaviour, FakeKraken};

const PRIVATE: &str = r#"{counter="private"}"#;
const XBTUSD: &str = r#"{counter="trading",pair="XBTUSD"}"#;

/// The service live against `kraken`, with a position limit on XBT so that a signal
/// for XBTUSD reads the balance (a private call) before it is sent.
async fn live_app(kraken: &FakeKraken) -> TestApp {
    spawn_app_on_kraken(kraken.exchange_config(Mode::Live), |config| {
        config
            .risk
            .max_position
            .insert("XBT".into(), "10".parse().unwrap());
    })
    .await
}

/// Every `tradehook_kraken_rate_limit_{headroom,max}` sample: labels → value.
async fn rate_limit_gauges(app: &TestApp) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let scrape = app.client.get(format!("{}/metrics", app.address)).send();
    let text = scrape.await.unwrap().text().await.unwrap();
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
async fn buy(app: &TestApp) -> Value {
    let response = app.post_hook_query("wait=10", &market_buy("0.01")).await;
    assert_eq!(response.status(), 202);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_private_counter_starts_with_its_whole_headroom_and_a_signal_spends_some() {
    let kraken = FakeKraken::start().await;
    let app = live_app(&kraken).await;
    let (headroom, max) = rate_limit_gauges(&app).await;
    assert_eq!(max[PRIVATE], 15.0, "a Starter key: {max:?}");
    assert_eq!(headroom[PRIVATE], max[PRIVATE], "nothing called yet");
    assert!(!headroom.contains_key(XBTUSD), "{headroom:?}");

    let order = buy(&app).await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(kraken.order_count(), 1);
    assert_eq!(kraken.calls("Balance"), 1, "the position rule's balance");

    // `Balance` took one unit of the REST counter (AddOrder takes none of it), and
    // one unit decays in about three seconds on a Starter key.
    let (headroom, max) = rate_limit_gauges(&app).await;
    assert_eq!(max[PRIVATE], 15.0);
    let private = headroom[PRIVATE];
    assert!((14.0..15.0).contains(&private), "{headroom:?}");
}

#[tokio::test]
async fn a_rate_limit_refusal_leaves_the_pair_little_trading_headroom() {
    let kraken = FakeKraken::start().await;
    kraken.script(Behaviour::Refuse("EAPI:Rate limit exceeded".into()));
    let app = live_app(&kraken).await;

    // Refused, so the model fills XBTUSD's counter to one below the threshold; the
    // retry waits for a unit to decay, is placed, and takes that unit again. From
    // there a Starter key regains one unit a second, so the headroom stays far below
    // the threshold for much longer than this test runs.
    let order = buy(&app).await;
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(kraken.calls("AddOrder"), 2);

    let (headroom, max) = rate_limit_gauges(&app).await;
    assert_eq!(max[XBTUSD], 60.0, "a Starter key's threshold: {max:?}");
    assert!(headroom[XBTUSD] < max[XBTUSD] / 2.0, "{headroom:?}");
}
