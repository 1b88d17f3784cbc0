//! Property tests: every format parser, and the pair resolver, take arbitrary bytes
//! without panicking, and any error they give names a field.

use proptest::prelude::*;

use super::{body_secret, pairs, parse, Context, Format};
use crate::pairs::PairTable;

const FORMATS: [Format; 4] = [
    Format::Tradehook,
    Format::Tradingview,
    Format::ThreeCommas,
    Format::Octobot,
];

/// Bodies that look like each format, with arbitrary values: reaches deeper than
/// random bytes alone.
fn shaped() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        any::<f64>().prop_map(|f| f.to_string()),
        "[0-9.eE+-]{0,12}",
        Just("null".to_owned()),
    ];
    let key = prop_oneof![
        Just("ticker"),
        Just("action"),
        Just("contracts"),
        Just("price"),
        Just("pair"),
        Just("side"),
        Just("order_type"),
        Just("volume"),
        Just("tv_instrument"),
        Just("order"),
        Just("timestamp"),
        Just("secret"),
        Just("id"),
        Just("max_lag"),
    ];
    let json = proptest::collection::vec((key, value), 0..8).prop_map(|fields| {
        let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", inner.join(",")).into_bytes()
    });
    let lines = proptest::collection::vec(("[A-Z_]{0,12}", "[ -~]{0,12}"), 0..8).prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    });
    prop_oneof![json, lines, proptest::collection::vec(any::<u8>(), 0..256)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_format_parser_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for format in FORMATS {
            if let Err(err) = parse(format, &body, Context { allow_leverage: true }) {
                prop_assert!(!err.field.is_empty());
            }
            let _ = body_secret(format, &body);
        }
    }

    #[test]
    fn no_format_parser_panics_on_bodies_shaped_like_a_format(body in shaped()) {
        for format in FORMATS {
            if let Err(err) = parse(format, &body, Context::default()) {
                prop_assert!(!err.field.is_empty());
            }
        }
    }

    #[test]
    fn the_pair_resolver_never_panics(name in any::<String>()) {
        let _ = pairs::resolve(&PairTable::snapshot(), &name);
    }
}
