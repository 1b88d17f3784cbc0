//! Copy-paste templates: what to paste into a platform so that its webhooks fit the
//! source's format (`tradehook template tradingview SOURCE`).

/// The TradingView alert message; `{{…}}` are TradingView's own placeholders.
pub const TRADINGVIEW_ALERT: &str = r#"{"secret": "<token source secret>", "ticker": "{{ticker}}", "exchange": "{{exchange}}",
 "action": "{{strategy.order.action}}", "contracts": "{{strategy.order.contracts}}",
 "order_type": "market", "price": "{{close}}", "timestamp": "{{timenow}}",
 "id": "{{strategy.order.id}}-{{timenow}}", "position": "{{strategy.market_position}}",
 "comment": "{{strategy.order.comment}}", "strategy": "my-strategy"}"#;

/// The text `tradehook template tradingview SOURCE` prints: the webhook URL to
/// enter in the alert and the message to paste, for a service reachable at
/// `base_url`.
pub fn tradingview(source: &str, base_url: &str) -> String {
    let url = format!(
        "{}/v1/signals/{}",
        base_url.trim_end_matches('/'),
        url_segment(source)
    );
    format!(
        "Webhook URL (alert → Notifications → Webhook URL):\n  {url}\n\n\
         Message (alert → Message), with <token source secret> replaced by the\n\
         source's secret:\n{TRADINGVIEW_ALERT}\n"
    )
}

/// `source` percent-encoded for a URL path segment.
fn url_segment(source: &str) -> String {
    source
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{tradingview, Context};

    #[test]
    fn the_template_names_the_url_and_the_message() {
        let text = tradingview("tv alerts", "https://hooks.example.com/");
        assert!(text.contains("https://hooks.example.com/v1/signals/tv%20alerts"));
        assert!(text.contains(r#""action": "{{strategy.order.action}}""#));
    }

    #[test]
    fn the_readme_shows_this_very_template() {
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let readme = words(include_str!("../../README.md"));
        assert!(readme.contains(&words(TRADINGVIEW_ALERT)));
    }

    #[test]
    fn the_template_once_substituted_is_a_valid_alert() {
        let body = TRADINGVIEW_ALERT
            .replace("{{ticker}}", "BTCUSD")
            .replace("{{exchange}}", "KRAKEN")
            .replace("{{strategy.order.action}}", "buy")
            .replace("{{strategy.order.contracts}}", "0.01")
            .replace("{{close}}", "64000")
            .replace("{{timenow}}", "2024-05-01T12:00:00Z")
            .replace("{{strategy.order.id}}", "Long")
            .replace("{{strategy.market_position}}", "long")
            .replace("{{strategy.order.comment}}", "");
        let parsed = tradingview::parse(body.as_bytes(), Context::default()).unwrap();
        assert_eq!(parsed.secret.as_deref(), Some("<token source secret>"));
    }
}
