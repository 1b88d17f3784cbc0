//! The HTTP transport to Kraken: one reqwest client (rustls, pooled connections, our
//! `User-Agent`), transport-level classification, and the `{"error", "result"}`
//! envelope parsed in one place.
//!
//! Transport classification is what makes a retry safe or not: a connect error means
//! no byte of the request left this process ([`SendError::NotSent`]); anything after
//! that (timeout, reset, a half-read answer) means the request may have arrived
//! ([`SendError::MaybeSent`]).
//!
//! Redirects are never followed: reqwest's default policy would re-send a signed POST
//! (307/308 keep method and body) to wherever a misconfigured `kraken_url`, a proxy or
//! an attacker on the path points it. A 3xx answer is returned as it is and read as
//! [`Reply::Malformed`], i.e. ambiguous for `AddOrder` (see [`parse_reply`]).

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, Url};
use serde_json::Value;

use super::handoff::SignalBody;

/// Sent with every request.
pub const USER_AGENT: &str = concat!("tradehook/", env!("CARGO_PKG_VERSION"));

/// Timeout of calls that do not place orders.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A problem talking to Kraken or understanding its answer (never contains a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KrakenError {
    /// The client could not be built or configured (bad URL, bad secret).
    #[error("Kraken client configuration: {0}")]
    Config(String),
    /// The request provably never left.
    #[error("not sent to Kraken: {0}")]
    NotSent(String),
    /// The request may have arrived but no usable answer came back.
    #[error("no usable answer from Kraken: {0}")]
    Transport(String),
    /// Kraken answered with errors.
    #[error("Kraken refused: {}", .0.join("; "))]
    Api(Vec<String>),
    /// Kraken's answer did not have the expected shape.
    #[error("unexpected Kraken answer: {0}")]
    Parse(String),
}

/// Why a request has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No byte left this process (connect failed, or we chose not to send).
    NotSent(String),
    /// It may have reached Kraken (timeout, reset, body cut off).
    MaybeSent(String),
}

/// An HTTP answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReply {
    pub status: u16,
    pub body: String,
}

/// What an answer says, once the envelope is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `error` empty and a `result` present.
    Ok(Value),
    /// Kraken JSON with a non-empty `error` list.
    Errors(Vec<String>),
    /// Not a Kraken answer: a 5xx/52x status, HTML, or JSON without the envelope.
    Malformed(String),
}

/// Reads Kraken's envelope. Any 5xx status is malformed whatever its body: a proxy
/// or Kraken's edge may have answered while the order went through behind it.
///
/// So is any 3xx (the client follows no redirect). Kraken's API never redirects, so a
/// 3xx comes from something between us and the engine: a proxy, a load balancer, a
/// wrong `kraken_url`. That it did not also forward the request cannot be proved from
/// here (a proxy may pass the request on and still answer with a redirect), so for
/// `AddOrder` it is ambiguous and settled by lookup, never by resending. Were it
/// provably not sent, the worst cost of this choice is one lookup.
pub fn parse_reply(raw: &RawReply) -> Reply {
    if raw.status >= 500 {
        return Reply::Malformed(format!("HTTP {}", raw.status));
    }
    if (300..400).contains(&raw.status) {
        return Reply::Malformed(format!(
            "HTTP {}: a redirect, not followed (Kraken's API does not redirect)",
            raw.status
        ));
    }
    let value: Value = match serde_json::from_str(&raw.body) {
        Ok(value) => value,
        Err(_) => return Reply::Malformed(format!("HTTP {}: body is not JSON", raw.status)),
    };
    let errors = match value.get("error") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
            .collect::<Vec<_>>(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Reply::Malformed("`error` is not a list".into()),
    };
    let real_errors = errors.iter().any(|e| !e.starts_with('W'));
    match value.get("result") {
        _ if real_errors => Reply::Errors(errors),
        Some(result) if !result.is_null() && raw.status < 300 => Reply::Ok(result.clone()),
        _ => Reply::Malformed(format!("HTTP {}: no `result` and no error", raw.status)),
    }
}

/// Turns a reply into the result or a [`KrakenError`], for calls that place nothing.
pub fn into_result(reply: Result<RawReply, SendError>) -> Result<Value, KrakenError> {
    let raw = reply.map_err(|e| match e {
        SendError::NotSent(r) => KrakenError::NotSent(r),
        SendError::MaybeSent(r) => KrakenError::Transport(r),
    })?;
    match parse_reply(&raw) {
        Reply::Ok(result) => Ok(result),
        Reply::Errors(errors) => Err(KrakenError::Api(errors)),
        Reply::Malformed(why) => Err(KrakenError::Transport(why)),
    }
}

/// The shared HTTP client and Kraken's base URL.
#[derive(Debug, Clone)]
pub struct Http {
    client: Client,
    base: Url,
}

impl Http {
    /// A client for `base_url` (e.g. `https://api.kraken.com`).
    pub fn new(base_url: &str) -> Result<Self, KrakenError> {
        let base = Url::parse(base_url).map_err(|e| KrakenError::Config(e.to_string()))?;
        let client = Client::builder()
            .user_agent(USER_AGENT)
            // Never re-send a signed request elsewhere; see the module doc.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| KrakenError::Config(e.to_string()))?;
        Ok(Http { client, base })
    }

    fn url(&self, path: &str) -> Result<Url, SendError> {
        self.base
            .join(path)
            .map_err(|e| SendError::NotSent(format!("bad URL for {path}: {e}")))
    }

    /// `GET {base}{path}?{query}` for public endpoints.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<RawReply, SendError> {
        let request = self
            .client
            .get(self.url(path)?)
            .query(query)
            .timeout(timeout);
        read(request.send().await).await
    }

    /// `POST {base}{path}` with a form body that has already been signed; `body`
    /// reports when the connection takes it (see [`super::handoff`]).
    pub async fn post_form(
        &self,
        path: &str,
        headers: HeaderMap,
        body: SignalBody,
        timeout: Duration,
    ) -> Result<RawReply, SendError> {
        let request = self
            .client
            .post(self.url(path)?)
            .headers(headers)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(reqwest::Body::wrap(body))
            .timeout(timeout);
        read(request.send().await).await
    }
}

async fn read(sent: Result<reqwest::Response, reqwest::Error>) -> Result<RawReply, SendError> {
    let response = sent.map_err(classify_transport)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| {
        // The status line arrived, so the request certainly did.
        SendError::MaybeSent(format!("HTTP {status}, body lost: {}", describe(&e)))
    })?;
    Ok(RawReply { status, body })
}

/// `is_connect` covers DNS, TCP and TLS setup: nothing of the request was written.
/// Everything else (timeout, reset, protocol error) happened once it may have been.
fn classify_transport(error: reqwest::Error) -> SendError {
    if error.is_connect() {
        SendError::NotSent(describe(&error))
    } else {
        SendError::MaybeSent(describe(&error))
    }
}

/// The error with its cause chain (reqwest's own message is often just "error
/// sending request"). URLs carry no secrets: private calls put everything in the body.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        format!("timed out: {error}")
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawReply {
        RawReply {
            status,
            body: body.into(),
        }
    }

    #[test]
    fn a_result_with_no_error_is_ok() {
        let reply = parse_reply(&raw(200, r#"{"error":[],"result":{"txid":["O1"]}}"#));
        assert_eq!(reply, Reply::Ok(serde_json::json!({"txid":["O1"]})));
    }

    #[test]
    fn errors_are_returned_verbatim() {
        let reply = parse_reply(&raw(200, r#"{"error":["EOrder:Insufficient funds"]}"#));
        assert_eq!(
            reply,
            Reply::Errors(vec!["EOrder:Insufficient funds".into()])
        );
    }

    #[test]
    fn warnings_alone_do_not_hide_a_result() {
        let reply = parse_reply(&raw(200, r#"{"error":["WGeneral:x"],"result":{"a":1}}"#));
        assert!(matches!(reply, Reply::Ok(_)));
    }

    #[test]
    fn server_errors_redirects_html_and_foreign_json_are_malformed() {
        for (status, body) in [
            (502, r#"{"error":["EOrder:Insufficient funds"]}"#),
            (520, ""),
            (200, "<html>Bad gateway</html>"),
            (200, r#"{"hello":"world"}"#),
            (200, r#"{"error":[],"result":null}"#),
            (403, "<html>forbidden</html>"),
            (307, r#"{"error":[],"result":{"txid":["O1"]}}"#),
            (301, r#"{"error":["EOrder:Insufficient funds"]}"#),
            (302, ""),
        ] {
            assert!(
                matches!(parse_reply(&raw(status, body)), Reply::Malformed(_)),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn user_agent_names_the_service_and_version() {
        assert!(USER_AGENT.starts_with("tradehook/"));
    }
}
