//! HTTPS, terminated in-process with rustls (ring; TLS 1.2 and 1.3 only).
//!
//! The certificate comes from PEM files reloaded when they change ([`reload`]) or from
//! an ACME CA ([`acme`]). Sources may require TradingView's client certificate
//! ([`client_cert`]): it is requested at every handshake, never required there, and
//! checked per source. [`redirect`] is the optional plain-HTTP redirect listener.

pub mod acme;
pub mod client_cert;
pub mod redirect;
pub mod reload;

use std::io;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ResolvesServerCert;
use rustls::RootCertStore;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use client_cert::{ClientCheck, RequestClientCert};

/// ALPN protocol of the ACME TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// What a connection's TLS client certificate proved, handed to every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    /// A valid certificate of `O=TradingView, Inc., CN=TradingView Webhooks`.
    pub tradingview: bool,
}

/// The crypto provider every TLS configuration here uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The public roots a client certificate must chain to in production.
pub fn public_roots() -> Arc<RootCertStore> {
    Arc::new(RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
}

/// Accepts TLS connections and says who the client proved to be.
pub struct TlsListener {
    acceptor: TlsAcceptor,
    client_check: Option<ClientCheck>,
}

impl TlsListener {
    /// A listener presenting what `resolver` picks. With `client_roots`, client
    /// certificates are requested (not required) and checked against those roots;
    /// with `acme`, the TLS-ALPN-01 challenge protocol is offered too.
    pub fn new(
        resolver: Arc<dyn ResolvesServerCert>,
        client_roots: Option<Arc<RootCertStore>>,
        acme: bool,
    ) -> anyhow::Result<TlsListener> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
        let (builder, client_check) = match client_roots {
            Some(roots) => {
                let check = ClientCheck::new(roots)?;
                let request = RequestClientCert::new(check.verifier());
                (
                    builder.with_client_cert_verifier(Arc::new(request)),
                    Some(check),
                )
            }
            None => (builder.with_no_client_auth(), None),
        };
        let mut config = builder.with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if acme {
            config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
        }
        Ok(TlsListener {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            client_check,
        })
    }

    /// Completes the handshake. `None` when the connection was an ACME challenge,
    /// which the handshake itself answered.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> io::Result<Option<(TlsStream<TcpStream>, ClientIdentity)>> {
        let stream = self.acceptor.accept(stream).await?;
        let (_, session) = stream.get_ref();
        if session.alpn_protocol() == Some(ACME_TLS_ALPN) {
            return Ok(None);
        }
        let identity = match (&self.client_check, session.peer_certificates()) {
            (Some(check), Some(chain)) => ClientIdentity {
                tradingview: check.is_tradingview(chain),
            },
            _ => ClientIdentity::default(),
        };
        Ok(Some((stream, identity)))
    }
}

/// HTTPS as `[server]` configures it, ready to accept.
pub struct Https {
    /// The acceptor.
    pub listener: Arc<TlsListener>,
    /// The certificate files, when they are watched for changes.
    pub files: Option<Arc<reload::FileCert>>,
    /// The ACME task, when certificates come from an ACME CA.
    pub acme_task: Option<tokio::task::JoinHandle<()>>,
}

/// Roots to trust instead of the public ones (tests, private CAs).
#[derive(Clone, Default)]
pub struct TrustOverrides {
    /// What TLS client certificates must chain to.
    pub client_certs: Option<Arc<RootCertStore>>,
    /// What the ACME directory's HTTPS certificate must chain to.
    pub acme_directory: Option<Arc<RootCertStore>>,
}

/// Builds HTTPS from `config` (`None` when neither certificate files nor ACME are
/// set), starting the ACME task if there is one (so: inside the runtime).
pub fn from_config(
    config: &crate::config::Config,
    trust: TrustOverrides,
) -> anyhow::Result<Option<Https>> {
    let server = &config.server;
    let wants_client_cert = config
        .sources
        .iter()
        .any(|source| source.require_client_cert.is_some());
    let client_roots = wants_client_cert.then(|| trust.client_certs.unwrap_or_else(public_roots));
    match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => {
            let files = Arc::new(reload::FileCert::load(cert, key)?);
            let listener = TlsListener::new(files.clone(), client_roots, false)?;
            Ok(Some(Https {
                listener: Arc::new(listener),
                files: Some(files),
                acme_task: None,
            }))
        }
        _ if !server.acme_domains.is_empty() => {
            let acme = acme::start(server, trust.acme_directory)?;
            let listener = TlsListener::new(acme.resolver, client_roots, true)?;
            Ok(Some(Https {
                listener: Arc::new(listener),
                files: None,
                acme_task: Some(acme.task),
            }))
        }
        _ => Ok(None),
    }
}
