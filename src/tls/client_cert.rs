//! TradingView's client certificate: requested at the handshake (never required, so
//! other sources on the same listener are unaffected), checked per connection, and
//! enforced for sources with `require_client_cert = "tradingview"`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::ClientIdentity;
use crate::config::ClientCertIssuer;
use crate::http::error::ApiError;
use crate::http::AppState;

/// The subject organisation of TradingView's webhook client certificate.
pub const TRADINGVIEW_ORGANIZATION: &str = "TradingView, Inc.";
/// The subject common name of TradingView's webhook client certificate.
pub const TRADINGVIEW_COMMON_NAME: &str = "TradingView Webhooks";

/// Checks a presented chain against the trusted roots and TradingView's subject.
pub struct ClientCheck {
    chain: Arc<dyn ClientCertVerifier>,
}

impl ClientCheck {
    /// A check against `roots` (the public roots in production).
    pub fn new(roots: Arc<RootCertStore>) -> anyhow::Result<ClientCheck> {
        let chain = WebPkiClientVerifier::builder_with_provider(roots, super::provider())
            .allow_unauthenticated()
            .build()?;
        Ok(ClientCheck { chain })
    }

    /// The chain verifier, whose signature checks the handshake uses.
    pub fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.chain.clone()
    }

    /// True when `chain` (end entity first) is valid now, chains to a trusted root
    /// and names TradingView's webhook sender as its subject.
    pub fn is_tradingview(&self, chain: &[CertificateDer<'_>]) -> bool {
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return false;
        };
        self.chain
            .verify_client_cert(end_entity, intermediates, UnixTime::now())
            .is_ok()
            && subject_is_tradingview(end_entity)
    }
}

/// True when the certificate's subject has `O=TradingView, Inc.` and
/// `CN=TradingView Webhooks`.
pub fn subject_is_tradingview(cert: &CertificateDer<'_>) -> bool {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return false;
    };
    let subject = parsed.subject();
    let organization = subject
        .iter_organization()
        .any(|value| value.as_str() == Ok(TRADINGVIEW_ORGANIZATION));
    let common_name = subject
        .iter_common_name()
        .any(|value| value.as_str() == Ok(TRADINGVIEW_COMMON_NAME));
    organization && common_name
}

/// Asks for a client certificate at the handshake and lets every client through:
/// the chain is judged after the handshake ([`ClientCheck`]), per source. Only the
/// proof of key possession (the handshake signature) is verified here.
#[derive(Debug)]
pub struct RequestClientCert {
    signatures: Arc<dyn ClientCertVerifier>,
}

impl RequestClientCert {
    /// Uses `signatures` for the handshake signature checks.
    pub fn new(signatures: Arc<dyn ClientCertVerifier>) -> Self {
        RequestClientCert { signatures }
    }
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

/// Route middleware of `POST /v1/signals/{source}`: a source that requires
/// TradingView's certificate refuses (`401`, like any failed authentication) a
/// request whose connection did not present it.
pub async fn require_for_source(
    State(app): State<AppState>,
    source: Result<Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
    next: Next,
) -> Response {
    let required = source
        .ok()
        .and_then(|Path(name)| app.config.source(&name).map(|s| s.require_client_cert))
        .flatten();
    if let Some(ClientCertIssuer::Tradingview) = required {
        let identity = request
            .extensions()
            .get::<ClientIdentity>()
            .copied()
            .unwrap_or_default();
        if !identity.tradingview {
            tracing::info!("signal refused: the source requires TradingView's client certificate");
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}
