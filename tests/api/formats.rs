//! Platform formats through HTTP (issue 10): TradingView, 3Commas and OctoBot payloads
//! as the platforms send them, on `token` and `hmac` sources; pair spellings; the
//! token secret kept out of the database and the answers.

use reqwest::Response;
use serde_json::Value;
use tradehook::config::{AuthKind, Config, SourceConfig};
use tradehook::formats::Format;
use tradehook::secret::Secret;

use crate::helpers::*;

/// TradingView's alert, as the README template makes it, placeholders substituted.
pub const TV_ALERT: &str = r#"{"secret": "tv-passphrase-0123456789", "ticker": "BTCUSD", "exchange": "KRAKEN",
 "action": "buy", "contracts": "0.001", "order_type": "market", "price": "64250.5",
 "timestamp": "TIMENOW", "id": "Long-TIMENOW",
 "position": "long", "comment": "entry", "strategy": "my-strategy"}"#;

/// 3Commas' Signal Bot message as its documentation shows it, substituted.
pub const THREE_COMMAS: &str = r#"{"secret": "tv-passphrase-0123456789", "max_lag": "300",
 "timestamp": "TIMENOW", "trigger_price": "64250.5", "tv_exchange": "KRAKEN",
 "tv_instrument": "BTCUSD", "action": "enter_long",
 "bot_uuid": "9a8b7c6d-0000-4000-8000-123456789abc",
 "strategy_info": {"market_position": "long", "market_position_size": "0.001"},
 "order": {"amount": "0.001", "currency_type": "base", "order_type": "market"}}"#;

/// An OctoBot signal.
pub const OCTOBOT: &str =
    "EXCHANGE=kraken\nSYMBOL=BTCUSD\nSIGNAL=BUY\nORDER_TYPE=MARKET\nVOLUME=0.001\nTAG=octo\nTOKEN=tv-passphrase-0123456789";

fn source(name: &str, auth: AuthKind, format: Format) -> SourceConfig {
    SourceConfig {
        name: name.into(),
        auth,
        secret: Some(Secret::new(match auth {
            AuthKind::Hmac => HMAC_SECRET,
            AuthKind::Token => PASSPHRASE,
        })),
        secret_file: None,
        allowed_ips: vec![],
        allowed_pairs: None,
        allowed_order_types: None,
        max_orders_per_minute: None,
        format,
        max_signals_per_minute: None,
        require_client_cert: None,
    }
}

/// A source of every format on both kinds of authentication: `<format>-token` and
/// `<format>-hmac`.
pub fn with_format_sources(config: &mut Config) {
    for format in [Format::Tradingview, Format::ThreeCommas, Format::Octobot] {
        for (auth, kind) in [(AuthKind::Token, "token"), (AuthKind::Hmac, "hmac")] {
            let name = format!("{}-{kind}", format.as_str());
            config.sources.push(source(&name, auth, format));
        }
    }
    config.risk.allowed_pairs.push("XBTUSDT".into());
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// POSTs `body` to `source` as `content_type`, signed when the source is `hmac`.
pub async fn post(app: &TestApp, source: &str, content_type: &str, body: &str) -> Response {
    let mut request = app
        .client
        .post(format!("{}/v1/signals/{source}", app.address))
        .header("content-type", content_type)
        .body(body.to_owned());
    if source.ends_with("-hmac") || source == "hook" {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        for (name, value) in signed_headers(&id, body) {
            request = request.header(name, value);
        }
    }
    request.send().await.unwrap()
}

pub async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn golden_payloads_of_every_format_are_placed_on_both_auth_kinds() {
    let app = spawn_app_with(with_format_sources).await;
    let tv = TV_ALERT.replace("TIMENOW", &now());
    let tv_numbers = tv
        .replace(r#""0.001""#, "0.001")
        .replace(r#""64250.5""#, "64250.5")
        .replace("Long-", "Numbers-");
    let c3 = THREE_COMMAS.replace("TIMENOW", &now());
    let c3_numbers = c3.replace(r#""amount": "0.001""#, r#""amount": 0.001"#);
    let cases = [
        ("tradingview", "application/json", tv.clone()),
        ("tradingview", "text/plain; charset=utf-8", tv_numbers),
        ("3commas", "application/json", c3),
        ("3commas", "text/plain", c3_numbers),
        ("octobot", "text/plain", OCTOBOT.to_owned()),
        (
            "octobot",
            "text/plain",
            OCTOBOT.replace('\n', ";").replace("0.001", "0.002"),
        ),
    ];
    for (format, content_type, body) in cases {
        for kind in ["token", "hmac"] {
            let source = format!("{format}-{kind}");
            let (status, order) = json_of(post(&app, &source, content_type, &body).await).await;
            assert_eq!(status, 202, "{source} {content_type}: {order}");
            assert_eq!(order["pair"], "XBTUSD", "{source}");
            assert_eq!(order["side"], "buy");
            assert_eq!(order["signal"]["pair_sent"], "BTCUSD", "{source}");
            assert_eq!(order["signal"]["format"], format);
            let payload = &order["signal"]["payload"];
            assert!(payload.is_object(), "{source}: {order}");
            assert!(payload.get("secret").is_none() && payload.get("TOKEN").is_none());
            let final_order = app
                .wait_final(order["client_order_id"].as_str().unwrap())
                .await;
            assert_eq!(final_order["status"], "placed", "{source}: {final_order}");
        }
    }
    let tv_record = &json_of(post(&app, "tradingview-token", "application/json", &tv).await)
        .await
        .1;
    assert_eq!(tv_record["signal"]["payload"]["position"], "long");
    assert_eq!(tv_record["signal"]["reference_price"], "64250.5");
}

#[tokio::test]
async fn the_same_tradingview_alert_delivered_twice_is_one_order() {
    let app = spawn_app_with(with_format_sources).await;
    let alert = TV_ALERT.replace("TIMENOW", &now());
    let (first, order) = json_of(post(&app, "tradingview-token", "text/plain", &alert).await).await;
    assert_eq!(first, 202, "{order}");
    let again = post(&app, "tradingview-token", "text/plain", &alert).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    // The same `id` with a reworded comment is still the same order, not a conflict.
    let reworded = alert.replace("entry", "entry again");
    let third = post(&app, "tradingview-token", "application/json", &reworded).await;
    assert_eq!(third.status(), 200);
    assert_eq!(app.count("orders").await, 1);
}

#[tokio::test]
async fn the_token_secret_never_reaches_the_database_or_an_answer() {
    let app = spawn_app_with(with_format_sources).await;
    let tv = TV_ALERT.replace("TIMENOW", &now());
    let c3 = THREE_COMMAS.replace("TIMENOW", &now());
    let mut answers = String::new();
    for (source, body) in [
        ("tradingview-token", tv.as_str()),
        ("3commas-token", c3.as_str()),
        ("octobot-token", OCTOBOT),
    ] {
        let response = post(&app, source, "application/json", body).await;
        answers.push_str(&response.text().await.unwrap());
        // A refused one (risk) and a malformed one echo nothing secret either.
        let refused = body
            .replace("BTCUSD", "ETHEUR")
            .replace("Long-", "Refused-");
        answers.push_str(
            &post(&app, source, "text/plain", &refused)
                .await
                .text()
                .await
                .unwrap(),
        );
        let malformed = body.replace("0.001", "NaN");
        answers.push_str(
            &post(&app, source, "text/plain", &malformed)
                .await
                .text()
                .await
                .unwrap(),
        );
    }
    let (_, listing) = app.get_audit("/v1/orders").await;
    answers.push_str(&listing.to_string());
    assert!(!answers.contains(PASSPHRASE), "{answers}");
    assert!(answers.contains("XBTUSD"));
    assert!(app.count("orders").await >= 6);
    let dir = app.stop().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    assert!(!bytes.is_empty());
    assert!(
        !contains(&bytes, PASSPHRASE),
        "the secret is in the database files"
    );
}

#[tokio::test]
async fn every_pair_spelling_resolves_to_kraken_xbtusd_on_the_native_format() {
    let app = spawn_app().await;
    for (i, spelling) in [
        "XBTUSD",
        "BTCUSD",
        "BTC/USD",
        "XBT/USD",
        "XXBTZUSD",
        "btc-usd",
        "KRAKEN:BTCUSD",
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(
            r#"{{"pair":"{spelling}","side":"buy","order_type":"market","volume":"0.00{}"}}"#,
            i + 1
        );
        let (status, order) = json_of(app.post_hook(&format!("msg_pair_{i}"), &body).await).await;
        assert_eq!(status, 202, "{spelling}: {order}");
        assert_eq!(order["pair"], "XBTUSD", "{spelling}");
        if spelling != "XBTUSD" {
            assert_eq!(order["signal"]["pair_sent"], spelling);
        }
    }
}

#[tokio::test]
async fn tether_stays_tether_and_perpetuals_are_refused() {
    let app = spawn_app_with(with_format_sources).await;
    let body = r#"{"pair":"BTCUSDT","side":"buy","order_type":"market","volume":"0.001"}"#;
    let (status, order) = json_of(app.post_hook("msg_usdt", body).await).await;
    assert_eq!(status, 202, "{order}");
    assert_eq!(order["pair"], "XBTUSDT");
    let perp = TV_ALERT
        .replace("TIMENOW", &now())
        .replace(r#""BTCUSD""#, r#""BTCUSD.P""#);
    let (status, error) = json_of(post(&app, "tradingview-token", "text/plain", &perp).await).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "ticker");
    assert!(error["message"].as_str().unwrap().contains("perpetual"));
    let unknown = r#"{"pair":"NOPEUSD","side":"buy","order_type":"market","volume":"1"}"#;
    let (status, refused) = json_of(app.post_hook("msg_unknown_pair", unknown).await).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["reasons"].to_string().contains("NOPEUSD"));
}

#[tokio::test]
async fn trailing_data_is_400_on_the_signed_path_and_the_token_path() {
    let app = spawn_app_with(with_format_sources).await;
    let one = market_buy("0.01");
    for body in [format!("{one}xyz"), format!("{one}{one}")] {
        let (status, error) = json_of(app.post_hook("msg_trailing", &body).await).await;
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some("body")),
            "{body}"
        );
    }
    let tv = TV_ALERT.replace("TIMENOW", &now());
    let (status, _) =
        json_of(post(&app, "tradingview-token", "text/plain", &format!("{tv}x")).await).await;
    assert_eq!(status, 400);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn a_form_post_has_its_trailing_equals_sign_stripped() {
    let app = spawn_app_with(with_format_sources).await;
    let body = format!("{}=", TV_ALERT.replace("TIMENOW", &now()));
    let response = post(
        &app,
        "tradingview-token",
        "application/x-www-form-urlencoded",
        &body,
    )
    .await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn a_stale_three_commas_signal_is_refused_by_its_own_max_lag() {
    let app = spawn_app_with(with_format_sources).await;
    let old = (chrono::Utc::now() - chrono::Duration::seconds(600))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = THREE_COMMAS.replace("TIMENOW", &old);
    let (status, refused) =
        json_of(post(&app, "3commas-token", "application/json", &body).await).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["reasons"][0]["rule"], "staleness");
}
