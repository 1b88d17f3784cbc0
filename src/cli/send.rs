//! `tradehook send SOURCE [FILE]`: sign a signal as the source would and post it.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;

use crate::config::{AuthKind, Config};
use crate::ingress::standard_webhooks;

/// Arguments of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The source name, as in [[sources]].
    pub source: String,
    /// JSON file with the signal; standard input when omitted or `-`.
    pub file: Option<PathBuf>,
    /// Base URL of the service; default: from server.listen.
    #[arg(long)]
    pub url: Option<String>,
    /// Hold the reply up to this many seconds for the exchange's answer.
    #[arg(long)]
    pub wait: Option<u64>,
}

fn read_body(file: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("cannot read standard input")?;
            Ok(body)
        }
    }
}

/// Signs and posts; prints the HTTP status and the answer. Fails on a non-2xx answer.
pub async fn run(config: &Config, args: SendArgs) -> anyhow::Result<()> {
    let Some(source) = config.source(&args.source) else {
        bail!("no source named `{}` in the configuration", args.source);
    };
    let Some(secret) = &source.secret else {
        bail!("source `{}` has no secret", source.name);
    };
    let mut body = read_body(args.file.as_ref())?;
    let base = args.url.clone().unwrap_or_else(|| super::base_url(config));
    let mut url = format!("{base}/v1/signals/{}", source.name);
    if let Some(wait) = args.wait {
        url.push_str(&format!("?wait={wait}"));
    }
    let mut request = reqwest::Client::new()
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    match source.auth {
        AuthKind::Hmac => {
            let key = standard_webhooks::decode_secret(secret.expose())
                .map_err(|msg| anyhow::anyhow!("source `{}` secret {msg}", source.name))?;
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let timestamp = chrono::Utc::now().timestamp();
            let signature = standard_webhooks::sign(&key, &id, timestamp, &body);
            request = request
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature);
        }
        AuthKind::Token => {
            let mut value: serde_json::Value =
                serde_json::from_slice(&body).context("the signal is not valid JSON")?;
            let Some(object) = value.as_object_mut() else {
                bail!("the signal must be a JSON object");
            };
            object.insert("passphrase".into(), secret.expose().into());
            body = serde_json::to_vec(&value)?;
        }
    }
    let response = request
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}; is `tradehook serve` running?"))?;
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let text = response.text().await.unwrap_or_default();
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or(text);
    println!(
        "HTTP {status}{}",
        if replayed { " (idempotent replay)" } else { "" }
    );
    println!("{pretty}");
    if !status.is_success() {
        bail!("the service refused the signal ({status})");
    }
    Ok(())
}
