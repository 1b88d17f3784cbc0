//! Signals as a signal platform sends them: JSON bodies over a few pairs, signed with
//! the Standard Webhooks scheme, prepared before a timed phase so that signing never
//! slows the load generator down.
//!
//! The signer is written here from the scheme's description (standardwebhooks.com),
//! not taken from the service, so a bug in the service's verifier cannot hide behind
//! the same bug in the bench.

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::Method;
use sha2::Sha256;

use crate::http::Prepared;

/// The `hmac` source every load run posts to.
pub const SOURCE: &str = "bench";
/// Its secret (24 random bytes, base64, with the `whsec_` prefix).
pub const SECRET: &str = "whsec_kZ8f4Jm1cQ0rX2bLt7vW9yHnD3sPaE6u";
/// Bearer token for the audit API of the services the bench starts.
pub const AUDIT_TOKEN: &str = "bench-audit-token-0123456789";

/// The pairs signals rotate over: three from the built-in pair table.
pub const PAIRS: [&str; 3] = ["XBTUSD", "ETHUSD", "SOLUSD"];

/// Signs Standard Webhooks messages with one secret.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    /// A signer for a `whsec_…` secret.
    pub fn new(secret: &str) -> anyhow::Result<Signer> {
        let Some(encoded) = secret.strip_prefix("whsec_") else {
            bail!("a Standard Webhooks secret starts with whsec_");
        };
        let key = BASE64
            .decode(encoded)
            .context("the secret after whsec_ is not base64")?;
        Ok(Signer { key })
    }

    /// `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).context("HMAC key")?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
    }
}

/// The body of the `n`-th signal: small market and limit orders over [`PAIRS`], every
/// one within Kraken's minimums and the default risk rules.
pub fn signal_body(n: u64) -> String {
    let pair = PAIRS[(n % 3) as usize];
    let side = if (n / 3) % 2 == 0 { "buy" } else { "sell" };
    let (volume, limit_price) = match pair {
        "XBTUSD" => ("0.0010", "30000.0"),
        "ETHUSD" => ("0.010", "1500.00"),
        _ => ("0.10", "100.00"),
    };
    let strategy = ["breakout", "trend", "scalp"][(n % 7 % 3) as usize];
    if (n / 6) % 2 == 0 {
        format!(
            r#"{{"pair":"{pair}","side":"{side}","order_type":"market","volume":"{volume}","strategy":"{strategy}"}}"#
        )
    } else {
        format!(
            r#"{{"pair":"{pair}","side":"{side}","order_type":"limit","volume":"{volume}","price":"{limit_price}","strategy":"{strategy}"}}"#
        )
    }
}

fn header(name: &'static str, value: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let value = HeaderValue::from_str(value).with_context(|| format!("header {name}"))?;
    Ok((HeaderName::from_static(name), value))
}

/// A POST of `body` to the bench source with the given signature header.
fn post(id: &str, timestamp: i64, signature: &str, body: String) -> anyhow::Result<Prepared> {
    Ok(Prepared {
        method: Method::POST,
        path: format!("/v1/signals/{SOURCE}"),
        headers: vec![
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            header("webhook-id", id)?,
            header("webhook-timestamp", &timestamp.to_string())?,
            header("webhook-signature", signature)?,
        ],
        body: Bytes::from(body),
    })
}

/// Prepares signed requests; every one carries a webhook-id unique to this run, so
/// every one is a new order.
pub struct Batch {
    signer: Signer,
    run: String,
    next: u64,
}

impl Batch {
    /// A batch whose webhook-ids start with `run` (unique per service start).
    pub fn new(run: &str) -> anyhow::Result<Batch> {
        Ok(Batch {
            signer: Signer::new(SECRET)?,
            run: run.to_owned(),
            next: 0,
        })
    }

    /// `count` new, correctly signed signals, timestamped now.
    pub fn valid(&mut self, count: u64) -> anyhow::Result<Vec<Prepared>> {
        let timestamp = chrono::Utc::now().timestamp();
        (0..count)
            .map(|_| {
                let n = self.next;
                self.next += 1;
                let id = format!("msg_{}_{n}", self.run);
                let body = signal_body(n);
                let signature = self.signer.sign(&id, timestamp, body.as_bytes())?;
                post(&id, timestamp, &signature, body)
            })
            .collect()
    }

    /// `count` forged signals: well-formed headers and bodies, but signed with a key
    /// that is not the source's, so the service must answer `401`.
    pub fn forged(&mut self, count: u64) -> anyhow::Result<Vec<Prepared>> {
        let forger = Signer::new("whsec_Zm9yZ2VkLWtleS1ub3QtdGhlLXNvdXJjZXM=")?;
        let timestamp = chrono::Utc::now().timestamp();
        (0..count)
            .map(|n| {
                let id = format!("msg_{}_forged_{n}", self.run);
                let body = signal_body(n);
                let signature = forger.sign(&id, timestamp, body.as_bytes())?;
                post(&id, timestamp, &signature, body)
            })
            .collect()
    }
}

/// `GET path` with the audit bearer token.
pub fn audit_get(path: String) -> anyhow::Result<Prepared> {
    let bearer = format!("Bearer {AUDIT_TOKEN}");
    Ok(Prepared {
        method: Method::GET,
        path,
        headers: vec![header("authorization", &bearer)?],
        body: Bytes::new(),
    })
}

/// Checks the signer against the Standard Webhooks test vector (ENGINEERING.md) at the
/// start of every run, so a broken signer fails loudly rather than measuring `401`s.
pub fn self_test() -> anyhow::Result<()> {
    let signer = Signer::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
    let signature = signer.sign(
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        br#"{"email":"test@example.com","username":"test_user"}"#,
    )?;
    if signature != "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=" {
        bail!("the bench's Standard Webhooks signer fails the test vector: {signature}");
    }
    Ok(())
}
