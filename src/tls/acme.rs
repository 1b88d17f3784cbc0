//! Certificates from an ACME CA (Let's Encrypt by default), obtained and renewed
//! in-process with TLS-ALPN-01 on the HTTPS port itself (rustls-acme).
//!
//! `server.acme_domains`, `acme_email`, `acme_directory`, `acme_cache_dir`. The
//! account key and certificate are kept in the cache folder (on the data volume), so
//! a restart serves the cached certificate at once and the CA's rate limits are not
//! spent again. The certificate is renewed when two thirds of its life have passed.
//! Until a first certificate exists, TLS handshakes fail and the failure to obtain
//! one is logged and retried; nothing panics and the rest of the service runs.

use std::sync::Arc;

use futures::StreamExt as _;
use rustls::RootCertStore;
use rustls_acme::caches::DirCache;
use rustls_acme::{AcmeConfig, ResolvesServerCertAcme};

use crate::config::ServerConfig;

/// The resolver serving ACME certificates (and challenge answers), and the task
/// that obtains and renews them.
pub struct Acme {
    /// What the TLS listener presents.
    pub resolver: Arc<ResolvesServerCertAcme>,
    /// Drives ordering and renewal; logs every event.
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts ACME for `server.acme_domains`. `directory_roots` replaces the public
/// roots the ACME directory's own HTTPS certificate must chain to (tests, private
/// CAs).
pub fn start(
    server: &ServerConfig,
    directory_roots: Option<Arc<RootCertStore>>,
) -> anyhow::Result<Acme> {
    let roots = directory_roots.unwrap_or_else(super::public_roots);
    let client = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = Arc::new(client);
    let mut config = AcmeConfig::new_with_client_config(&server.acme_domains, client)
        .directory(&server.acme_directory)
        .cache(DirCache::new(server.acme_cache_dir.clone()));
    if let Some(email) = &server.acme_email {
        config = config.contact_push(format!("mailto:{email}"));
    }
    let mut state = config.state();
    let resolver = state.resolver();
    let domains = server.acme_domains.join(",");
    let directory = server.acme_directory.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = state.next().await {
            match event {
                Ok(event) => tracing::info!(%domains, ?event, "ACME"),
                Err(err) => tracing::warn!(
                    %domains,
                    %directory,
                    error = ?err,
                    "ACME: could not obtain or renew the certificate; retrying"
                ),
            }
        }
    });
    Ok(Acme { resolver, task })
}
