//! Arbitrary bytes into the parsers an unauthenticated client or a config file
//! reaches: the Standard Webhooks headers, the paging cursor, the config loader.
//! None may panic, whatever the input. (The same entry points are cargo-fuzz targets
//! in fuzz/, for longer runs on nightly.)

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use tradehook::config::Config;
use tradehook::http::orders::{decode_cursor, encode_cursor};
use tradehook::ingress::standard_webhooks::{decode_secret, sign, verify, WebhookHeaders};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

/// Strings shaped like the real headers as well as any text at all.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "v1,[A-Za-z0-9+/=]{0,60}( v1,[A-Za-z0-9+/=]{0,60}){0,3}",
        "-?[0-9]{1,20}",
        Just(i64::MIN.to_string()),
        Just(i64::MAX.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn webhook_headers_of_any_shape_are_refused_or_verified_never_a_panic(
        id in proptest::option::of(header_text()),
        timestamp in proptest::option::of(header_text()),
        signature in proptest::option::of(header_text()),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let key = decode_secret(SECRET).unwrap();
        let headers = WebhookHeaders {
            id: id.as_deref(),
            timestamp: timestamp.as_deref(),
            signature: signature.as_deref(),
        };
        let _ = verify(&key, headers, &body, now());
    }

    #[test]
    fn a_correct_signature_verifies_for_any_id_and_body(
        id in "[ -~]{1,64}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let key = decode_secret(SECRET).unwrap();
        let ts = now().timestamp();
        let signature = sign(&key, &id, ts, &body);
        let ts = ts.to_string();
        let headers = WebhookHeaders {
            id: Some(&id),
            timestamp: Some(&ts),
            signature: Some(&signature),
        };
        prop_assert_eq!(verify(&key, headers, &body, now()), Ok(id.as_str()));
    }

    #[test]
    fn any_cursor_text_is_refused_or_decoded_never_a_panic(cursor in any::<String>()) {
        let _ = decode_cursor(&cursor);
    }

    #[test]
    fn every_issued_cursor_decodes_to_its_row(id in any::<i64>()) {
        prop_assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
    }

    #[test]
    fn any_config_text_loads_or_names_its_error_never_a_panic(text in any::<String>()) {
        let _ = Config::from_toml(&text);
    }

    #[test]
    fn config_text_shaped_like_toml_loads_or_names_its_error(
        section in prop_oneof![Just("server"), Just("database"), Just("exchange"), Just("risk")],
        key in "[a-z_]{1,30}",
        value in prop_oneof![
            "-?[0-9]{1,25}",
            "\"[ -~]{0,40}\"",
            Just("true".to_owned()),
            "\\[\"[A-Z/]{0,10}\"\\]",
            "-?[0-9]{1,5}\\.[0-9]{1,30}",
        ],
    ) {
        let _ = Config::from_toml(&format!("[{section}]\n{key} = {value}\n"));
    }

    #[test]
    fn known_numeric_keys_with_any_number_load_or_are_refused_by_name(
        key in prop_oneof![
            Just("server.body_limit_bytes"), Just("server.header_timeout_secs"),
            Just("server.request_timeout_secs"), Just("server.max_connections"),
            Just("server.max_connections_per_ip"), Just("server.max_wait_secs"),
            Just("database.busy_timeout_ms"), Just("exchange.deadline_secs"),
            Just("risk.max_signal_age_secs"),
        ],
        value in any::<i64>(),
    ) {
        let (section, name) = key.split_once('.').unwrap();
        if let Err(err) = Config::from_toml(&format!("[{section}]\n{name} = {value}\n")) {
            prop_assert!(err.to_string().contains(name), "{}", err);
        }
    }
}
