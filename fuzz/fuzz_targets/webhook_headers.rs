//! Fuzz target: the Standard Webhooks headers and body of an unauthenticated request.
//! The input is split at the first three newlines into id, timestamp and signature;
//! the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradehook::ingress::standard_webhooks::{decode_secret, verify, WebhookHeaders};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |byte| *byte == b'\n');
    let mut text = || parts.next().and_then(|part| std::str::from_utf8(part).ok());
    let (id, timestamp, signature) = (text(), text(), text());
    let body = data
        .get(
            data.len().min(
                id.map_or(0, str::len)
                    + timestamp.map_or(0, str::len)
                    + signature.map_or(0, str::len)
                    + 3,
            )..,
        )
        .unwrap_or_default();
    let key = decode_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("a valid secret");
    let headers = WebhookHeaders {
        id,
        timestamp,
        signature,
    };
    let _ = verify(&key, headers, body, chrono::Utc::now());
});
