//! Unit tests of configuration loading and validation.

use super::env::describe_figment_error;
use super::*;
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;

fn parse(toml: &str) -> Result<Config, ConfigError> {
    let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml))
        .extract()
        .map_err(|err| ConfigError::Load(describe_figment_error(err)))?;
    config.validate()?;
    Ok(config)
}

#[test]
fn empty_config_is_paper_mode_on_loopback() {
    let config = parse("").unwrap();
    assert_eq!(config.exchange.mode, Mode::Paper);
    assert!(config.server.listen.ip().is_loopback());
}

#[test]
fn unknown_key_is_named() {
    let err = parse("[server]\nlisten_addr = \"127.0.0.1:1\"").unwrap_err();
    assert!(err.to_string().contains("listen_addr"), "{err}");
}

#[test]
fn a_mistyped_secret_is_not_echoed_in_the_error() {
    let err = parse("[server]\nadmin_token = 987654321987654321").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("server.admin_token"), "{text}");
    assert!(!text.contains("987654321987654321"), "{text}");
}

#[test]
fn bad_deadline_is_named() {
    let err = parse("[exchange]\ndeadline_secs = 90").unwrap_err();
    assert!(err.to_string().contains("exchange.deadline_secs"), "{err}");
}

#[test]
fn live_mode_without_credentials_is_refused() {
    let err = parse("[exchange]\nmode = \"live\"").unwrap_err();
    assert!(err.to_string().contains("exchange.api_key"), "{err}");
}

#[test]
fn public_listen_without_tls_is_refused() {
    let err = parse("[server]\nlisten = \"0.0.0.0:8080\"").unwrap_err();
    assert!(err.to_string().contains("server.listen"), "{err}");
    parse("[server]\nlisten = \"0.0.0.0:8080\"\nbehind_tls_proxy = true").unwrap();
}

#[test]
fn public_listen_with_built_in_tls_is_allowed() {
    parse("[server]\nlisten = \"0.0.0.0:8443\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"")
        .unwrap();
    parse("[server]\nlisten = \"0.0.0.0:443\"\nacme_domains = [\"hooks.example.com\"]").unwrap();
}

#[test]
fn tls_settings_that_cannot_work_are_named() {
    let cases = [
        ("tls_cert = \"c.pem\"", "server.tls_cert"),
        ("redirect_http = \"0.0.0.0:80\"", "server.redirect_http"),
        ("acme_domains = [\"bad domain\"]", "server.acme_domains"),
        (
            "acme_domains = [\"a.example\"]\nacme_directory = \"http://x\"",
            "server.acme_directory",
        ),
        (
            "acme_domains = [\"a.example\"]\nacme_email = \"nobody\"",
            "server.acme_email",
        ),
        (
            "acme_domains = [\"a.example\"]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"",
            "server.acme_domains",
        ),
    ];
    for (toml, key) in cases {
        let err = parse(&format!("[server]\n{toml}")).unwrap_err();
        assert!(err.to_string().contains(key), "{toml}: {err}");
    }
}

#[test]
fn a_client_certificate_requirement_needs_built_in_tls() {
    let source = "[[sources]]\nname = \"tv\"\nauth = \"token\"\nsecret = \"passphrase-0123456789\"\nrequire_client_cert = \"tradingview\"";
    let err = parse(source).unwrap_err();
    assert!(
        err.to_string().contains("sources[0].require_client_cert"),
        "{err}"
    );
    parse(&format!(
        "[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n{source}"
    ))
    .unwrap();
}

#[test]
fn hmac_source_needs_a_whsec_secret() {
    let err = parse("[[sources]]\nname = \"a\"\nauth = \"hmac\"\nsecret = \"plain\"").unwrap_err();
    assert!(err.to_string().contains("sources[0].secret"), "{err}");
}

#[test]
fn notional_takes_one_value_or_a_table() {
    let one = parse("[risk]\nmax_order_notional = \"1000\"").unwrap();
    assert_eq!(
        one.risk.max_order_notional.unwrap().for_pair("XBTUSD"),
        Some(Decimal::from(1000))
    );
    let table = parse("[risk.max_order_notional]\nXBTUSD = \"50\"").unwrap();
    let table = table.risk.max_order_notional.unwrap();
    assert_eq!(table.for_pair("XBTUSD"), Some(Decimal::from(50)));
    assert_eq!(table.for_pair("ETHUSD"), None);
}

#[test]
fn redacted_output_hides_secrets() {
    let config = parse(
        "[server]\naudit_token = \"audit-token-0123456789\"\n\
         [[sources]]\nname = \"a\"\nauth = \"token\"\nsecret = \"passphrase-0123456789\"",
    )
    .unwrap();
    let shown = config.to_redacted_toml();
    assert!(!shown.contains("audit-token-0123456789"));
    assert!(!shown.contains("passphrase-0123456789"));
    assert!(shown.contains(crate::secret::REDACTED));
}

#[test]
fn pairs_are_normalised() {
    let config =
        parse("[risk]\nallowed_pairs = [\"xbt/usd\", \"BTCUSDT\", \"DOGE/USD\", \"ADAEUR\"]")
            .unwrap();
    assert_eq!(
        config.risk.allowed_pairs,
        vec!["XBTUSD", "XBTUSDT", "XDGUSD", "ADAEUR"]
    );
}

#[test]
fn sources_take_a_format_and_their_own_signal_rate() {
    let config = parse(
        "[[sources]]\nname = \"tv\"\nauth = \"token\"\nformat = \"tradingview\"\n\
         secret = \"passphrase-0123456789\"\nmax_signals_per_minute = 30\n\n\
         [[sources]]\nname = \"bot\"\nauth = \"hmac\"\nformat = \"3commas\"\n\
         secret = \"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\"\n",
    )
    .unwrap();
    assert_eq!(
        config.sources[0].format,
        crate::formats::Format::Tradingview
    );
    assert_eq!(config.sources[0].max_signals_per_minute, Some(30));
    assert_eq!(
        config.sources[1].format,
        crate::formats::Format::ThreeCommas
    );
    assert_eq!(config.sources[1].max_signals_per_minute, None);
    let err = parse(
        "[[sources]]\nname = \"x\"\nauth = \"token\"\nformat = \"pinescript\"\n\
         secret = \"passphrase-0123456789\"\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("format"), "{err}");
}

#[test]
fn paper_balances_are_read_and_never_negative() {
    let config = parse("[exchange]\npaper_balances = { USD = \"1000\", XBT = \"0.5\" }").unwrap();
    assert_eq!(
        config.exchange.paper_balances["USD"],
        "1000".parse().unwrap()
    );
    let err = parse("[exchange]\npaper_balances = { USD = \"-1\" }").unwrap_err();
    assert!(
        err.to_string().contains("exchange.paper_balances.USD"),
        "{err}"
    );
}

#[test]
fn metrics_are_public_by_default_and_can_be_closed() {
    assert!(parse("").unwrap().server.metrics_public);
    assert!(
        !parse("[server]\nmetrics_public = false")
            .unwrap()
            .server
            .metrics_public
    );
}
