//! Standard Webhooks (standardwebhooks.com) signature verification.
//!
//! The signed content is `"{webhook-id}.{webhook-timestamp}.{raw body}"`, MAC'd with
//! HMAC-SHA256 under the base64-decoded part of the `whsec_` secret. The header may list
//! several space-separated `v1,<base64>` signatures (secret rotation): one full-length
//! match is enough. MACs are compared with `Mac::verify_slice`, which is constant-time
//! and refuses a truncated or empty MAC.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Timestamps further than this from now are refused (replay window).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a webhook failed verification. Only ever logged; the caller always gets one
/// indistinguishable `401`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a Unix time")]
    BadTimestamp,
    #[error("webhook-timestamp is outside the {TOLERANCE_SECS} s window")]
    StaleTimestamp,
    #[error("no valid signature")]
    NoMatch,
}

/// The three headers of a Standard Webhooks delivery.
#[derive(Debug, Clone, Copy)]
pub struct WebhookHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Decodes a `whsec_<base64>` secret into key bytes.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or("must start with `whsec_`")?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| "the part after `whsec_` is not valid base64")?;
    if key.len() < 16 {
        return Err("the key after `whsec_` must be at least 16 bytes".into());
    }
    Ok(key)
}

/// Signs `body` as a sender would; used by `tradehook send` and tests.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = content_mac(key, id, &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn content_mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Verifies a delivery against `key` at time `now`. Returns the `webhook-id`.
pub fn verify<'a>(
    key: &[u8],
    headers: WebhookHeaders<'a>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<&'a str, VerifyError> {
    let id = headers.id.ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp = headers
        .timestamp
        .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signatures = headers
        .signature
        .ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let sent_at: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    // Saturating: a timestamp near i64::MIN must not overflow (found by fuzzing).
    if now.timestamp().saturating_sub(sent_at).saturating_abs() > TOLERANCE_SECS {
        return Err(VerifyError::StaleTimestamp);
    }
    let expected = content_mac(key, id, timestamp, body);
    let matched = signatures.split(' ').any(|candidate| {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            return false;
        };
        match STANDARD.decode(encoded) {
            Ok(mac) => expected.clone().verify_slice(&mac).is_ok(),
            Err(_) => false,
        }
    });
    if matched {
        Ok(id)
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1649367553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    fn check(signature: &str, now: i64) -> Result<&str, VerifyError> {
        let key = decode_secret(SECRET).unwrap();
        let ts = TS.to_string();
        let headers = WebhookHeaders {
            id: Some(ID),
            timestamp: Some(Box::leak(ts.into_boxed_str())),
            signature: Some(Box::leak(signature.to_owned().into_boxed_str())),
        };
        verify(&key, headers, BODY, at(now))
    }

    #[test]
    fn published_test_vector_signs_and_verifies() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(sign(&key, ID, TS, BODY), SIGNATURE);
        assert_eq!(check(SIGNATURE, TS), Ok(ID));
    }

    #[test]
    fn signature_with_empty_mac_is_rejected() {
        assert_eq!(check("v1,", TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn truncated_mac_is_rejected() {
        let truncated = &SIGNATURE[..SIGNATURE.len() - 8];
        assert_eq!(check(truncated, TS), Err(VerifyError::NoMatch));
        // A valid base64 prefix of the true MAC (first 16 bytes).
        let mac = STANDARD.decode(&SIGNATURE[3..]).unwrap();
        let prefix = format!("v1,{}", STANDARD.encode(&mac[..16]));
        assert_eq!(check(&prefix, TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn other_versions_are_not_accepted() {
        let v2 = SIGNATURE.replacen("v1,", "v2,", 1);
        assert_eq!(check(&v2, TS), Err(VerifyError::NoMatch));
        let bare = &SIGNATURE[3..];
        assert_eq!(check(bare, TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn any_one_matching_signature_in_the_list_is_enough() {
        let list = format!("v1,AAAA v1a,xyz {SIGNATURE}");
        assert_eq!(check(&list, TS), Ok(ID));
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        assert_eq!(check(SIGNATURE, TS + 301), Err(VerifyError::StaleTimestamp));
        assert_eq!(check(SIGNATURE, TS - 301), Err(VerifyError::StaleTimestamp));
        assert_eq!(check(SIGNATURE, TS + 300), Ok(ID));
    }

    #[test]
    fn tampered_body_is_refused() {
        let key = decode_secret(SECRET).unwrap();
        let headers = WebhookHeaders {
            id: Some(ID),
            timestamp: Some("1649367553"),
            signature: Some(SIGNATURE),
        };
        assert_eq!(
            verify(&key, headers, b"{}", at(TS)),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn secret_must_have_the_whsec_prefix() {
        assert!(decode_secret("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(decode_secret("whsec_!!!").is_err());
    }
}
