//! `tradehook template tradingview SOURCE`: what it prints is what TradingView then
//! sends, and that is placed.

use std::process::Command;

use crate::helpers::*;

fn tradehook(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tradehook"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TRADEHOOK_CONFIG")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn the_printed_tradingview_template_once_substituted_is_placed() {
    let app = spawn_app_with(|config| {
        config.sources[1].format = tradehook::formats::Format::Tradingview;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tv.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}/cli.db\"\n\n[[sources]]\nname = \"tv\"\nauth = \"token\"\n\
             format = \"tradingview\"\nsecret = \"{PASSPHRASE}\"\n\n[[sources]]\nname = \"plain\"\n\
             auth = \"token\"\nsecret = \"{PASSPHRASE}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let args = [
        "template",
        "tradingview",
        "tv",
        "--url",
        "https://hooks.example.com",
    ];
    let output = tradehook(&config, &args);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("https://hooks.example.com/v1/signals/tv"),
        "{stdout}"
    );
    let message = &stdout[stdout.find('{').unwrap()..=stdout.rfind('}').unwrap()];
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let alert = message
        .replace("<token source secret>", PASSPHRASE)
        .replace("{{ticker}}", "XBTUSD")
        .replace("{{exchange}}", "KRAKEN")
        .replace("{{strategy.order.action}}", "sell")
        .replace("{{strategy.order.contracts}}", "0.01")
        .replace("{{close}}", "64000")
        .replace("{{timenow}}", &now)
        .replace("{{strategy.order.id}}", "Exit")
        .replace("{{strategy.market_position}}", "flat")
        .replace("{{strategy.order.comment}}", "");
    let response = app
        .client
        .post(format!("{}/v1/signals/tv", app.address))
        .header("content-type", "text/plain; charset=utf-8")
        .body(alert)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    // A source of another format is named as such.
    let wrong = tradehook(&config, &["template", "tradingview", "plain"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("format = \"tradingview\""));
}
