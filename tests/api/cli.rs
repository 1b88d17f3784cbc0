//! The command line against a running service and its database.

use std::process::Command;

use crate::helpers::*;

pub fn write_config(app: &TestApp, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("cli.toml");
    let toml = format!(
        "[database]\nurl = \"{}\"\n\n[[sources]]\nname = \"hook\"\nauth = \"hmac\"\nsecret = \"{HMAC_SECRET}\"\n\n\
         [[sources]]\nname = \"tv\"\nauth = \"token\"\nsecret = \"{PASSPHRASE}\"\n",
        app.db_url
    );
    std::fs::write(&path, toml).unwrap();
    path
}

pub fn tradehook(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tradehook"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TRADEHOOK_CONFIG")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn send_signs_and_posts_to_a_running_server_and_audit_reads_it_back() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&app, dir.path());
    let signal = dir.path().join("signal.json");
    std::fs::write(&signal, market_buy("0.01")).unwrap();

    let config_arg = config.clone();
    let signal_arg = signal.clone();
    let url = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        tradehook(
            &config_arg,
            &[
                "send",
                "hook",
                signal_arg.to_str().unwrap(),
                "--url",
                &url,
                "--wait",
                "5",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "send failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("HTTP 202"), "{stdout}");
    assert!(stdout.contains("\"placed\""), "{stdout}");

    let token_signal = dir.path().join("tv.json");
    std::fs::write(&token_signal, market_buy("0.02")).unwrap();
    let url = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        tradehook(
            &config,
            &["send", "tv", token_signal.to_str().unwrap(), "--url", &url],
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(app.count("orders").await, 2);

    let config = dir.path().join("cli.toml");
    let output = tokio::task::spawn_blocking(move || {
        tradehook(&config, &["audit", "--format", "json", "--source", "hook"])
    })
    .await
    .unwrap();
    assert!(output.status.success());
    let orders: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(orders[0]["volume"], "0.01");

    // `--pair` takes the spellings signals take; an unknown pair fails naming it.
    let config = dir.path().join("cli.toml");
    let output = tokio::task::spawn_blocking(move || {
        let found = tradehook(&config, &["audit", "--format", "json", "--pair", "BTC/USD"]);
        (found, tradehook(&config, &["audit", "--pair", "FOOBAR"]))
    })
    .await
    .unwrap();
    let orders: serde_json::Value = serde_json::from_slice(&output.0.stdout).unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 2);
    assert!(!output.1.status.success());
    let stderr = String::from_utf8_lossy(&output.1.stderr);
    assert!(stderr.contains("FOOBAR"), "{stderr}");
}

#[tokio::test]
async fn send_to_an_unknown_source_fails_with_a_clear_message() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&app, dir.path());
    let output = tradehook(&config, &["send", "nosuch", "-"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no source named `nosuch`"));
}

#[tokio::test]
async fn check_config_redacts_secrets_and_names_bad_keys() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&app, dir.path());
    let output = tradehook(&config, &["check-config"]);
    assert!(output.status.success());
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("[redacted]"));
    assert!(!shown.contains(PASSPHRASE));
    assert!(!shown.contains(&HMAC_SECRET[6..]));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[exchange]\ndeadline_secs = 600\n").unwrap();
    let output = tradehook(&bad, &["check-config"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("exchange.deadline_secs"));
}

#[test]
fn live_mode_without_kraken_credentials_refuses_to_start_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("live.toml");
    let db = dir.path().join("live.db");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let run = |mode: &str, key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tradehook"));
        command
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("TRADEHOOK_CONFIG")
            .env_remove("KRAKEN_API_KEY")
            .env_remove("KRAKEN_API_SECRET")
            .env("TRADEHOOK_EXCHANGE__MODE", mode);
        if let Some(key) = key {
            command.env("KRAKEN_API_KEY", key);
        }
        command.output().expect("the binary runs")
    };
    for mode in ["live", "validate"] {
        let output = run(mode, None);
        assert!(!output.status.success(), "{mode} started without a key");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("KRAKEN_API_KEY"), "{stderr}");
    }
    let output = run("live", Some("a-key-without-its-secret"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KRAKEN_API_SECRET"), "{stderr}");
    assert!(
        !stderr.contains("a-key-without-its-secret"),
        "the key leaked"
    );
    assert!(!db.exists(), "nothing was created before the refusal");
}

#[test]
fn check_config_refuses_numbers_out_of_range_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        // Large enough to have panicked every signal (chrono's seconds range).
        (
            "[risk]\nmax_signal_age_secs = 100000000000000000\n",
            "risk.max_signal_age_secs",
        ),
        (
            "[database]\nbusy_timeout_ms = 9223372036854775807\n",
            "database.busy_timeout_ms",
        ),
        (
            "[server]\nrate_limit_per_minute = 2000000\n",
            "server.rate_limit_per_minute",
        ),
        ("[risk]\nprice_band_pct = \"250\"\n", "risk.price_band_pct"),
    ] {
        let path = dir.path().join("range.toml");
        std::fs::write(&path, toml).unwrap();
        let output = tradehook(&path, &["check-config"]);
        assert!(!output.status.success(), "{toml} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("`{key}`")), "{toml}: {stderr}");
    }
}
