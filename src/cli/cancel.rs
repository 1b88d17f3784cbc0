//! `tradehook cancel ID`: asks the running service to cancel an order
//! (`POST /v1/orders/{id}/cancel` with the admin token from the configuration) and
//! prints its answer. Through the service, not the database: the service holds the
//! database, and the cancel is recorded by its one writer.

use anyhow::Context as _;
use clap::Args;

use crate::config::Config;

/// Arguments of `cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The order's client order ID.
    pub client_order_id: uuid::Uuid,
    /// Base URL of the service; default: from server.listen.
    #[arg(long)]
    pub url: Option<String>,
}

/// Sends the cancel; fails (exit 1) unless the order was cancelled.
pub async fn run(config: &Config, args: CancelArgs) -> anyhow::Result<()> {
    let token = config
        .server
        .admin_token
        .as_ref()
        .context("server.admin_token is not set: the service refuses cancels")?;
    let base = args.url.unwrap_or_else(|| super::base_url(config));
    let url = format!("{base}/v1/orders/{}/cancel", args.client_order_id);
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token.expose())
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    println!("HTTP {}\n{body}", status.as_u16());
    anyhow::ensure!(status.is_success(), "the order was not cancelled");
    Ok(())
}
