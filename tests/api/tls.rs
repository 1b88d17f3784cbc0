//! HTTPS built in: certificates from PEM files (reloaded on change), TLS 1.2 and 1.3,
//! the redirect listener, and TradingView's client certificate checked per source,
//! all with certificates made here by rcgen and a test-only trust root.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use tokio::sync::oneshot;
use tradehook::app::{App, Overrides};
use tradehook::config::{ClientCertIssuer, Config};

use crate::helpers::*;

/// A certificate authority made for one test.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost`: (certificate PEM, key PEM).
    fn server(&self) -> (String, String) {
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate with subject `O=organization, CN=common_name`, as one PEM
    /// holding the certificate and its key (what `reqwest::Identity` reads).
    fn client(&self, organization: &str, common_name: &str) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        format!("{}{}", cert.pem(), key.serialize_pem())
    }

    fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        Arc::new(roots)
    }
}

/// A running HTTPS app.
struct HttpsApp {
    address: SocketAddr,
    dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl HttpsApp {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    fn write_cert(&self, (cert, key): &(String, String)) {
        write_pair(self.dir.path(), cert, key);
    }
}

fn write_pair(dir: &Path, cert: &str, key: &str) {
    // The key first: a reload between the two writes sees a mismatch and keeps
    // the old pair, as a real operator's half-done copy would be.
    std::fs::write(dir.join("key.pem"), key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
}

async fn spawn_https(
    server_cert: &(String, String),
    client_roots: Option<Arc<rustls::RootCertStore>>,
    adjust: impl FnOnce(&mut Config),
) -> HttpsApp {
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), &server_cert.0, &server_cert.1);
    let mut config = base_config(&format!(
        "sqlite://{}",
        dir.path().join("test.db").display()
    ));
    config.server.tls_cert = Some(dir.path().join("cert.pem"));
    config.server.tls_key = Some(dir.path().join("key.pem"));
    adjust(&mut config);
    config.validate().expect("valid test config");
    let overrides = Overrides {
        exchange: Some(Arc::new(tradehook::exchange::paper::PaperExchange::new(
            tradehook::pairs::PairTable::snapshot(),
        ))),
        trust: tradehook::tls::TrustOverrides {
            client_certs: client_roots,
            acme_directory: None,
        },
        ..Overrides::default()
    };
    let app = App::build(config, overrides).await.expect("app builds");
    assert!(app.serves_https());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    HttpsApp {
        address,
        dir,
        _shutdown: shutdown,
    }
}

/// An HTTPS client trusting only `ca`, optionally presenting `identity`.
fn client(app: &HttpsApp, ca: &TestCa, identity: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("localhost", app.address)
        .timeout(Duration::from_secs(10));
    if let Some(pem) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn token_signal(volume: &str) -> String {
    format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"{volume}","passphrase":"{PASSPHRASE}"}}"#
    )
}

async fn post(client: &reqwest::Client, url: String, body: String) -> u16 {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn https_from_pem_files_serves_signals_over_tls_1_2_and_1_3() {
    let ca = TestCa::new("test server CA");
    let app = spawn_https(&ca.server(), None, |_| {}).await;
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let pinned = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
            .resolve("localhost", app.address)
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let status = pinned
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{version:?}");
    }
    let https = client(&app, &ca, None);
    let body = token_signal("0.01");
    assert_eq!(post(&https, app.url("/v1/signals/tv"), body).await, 202);
    // Plain HTTP on the HTTPS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", app.address))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

#[tokio::test]
async fn a_changed_certificate_is_served_without_a_restart_and_a_bad_one_is_ignored() {
    let old_ca = TestCa::new("old CA");
    let new_ca = TestCa::new("new CA");
    let app = spawn_https(&old_ca.server(), None, |c| c.server.tls_reload_secs = 1).await;
    assert!(client(&app, &old_ca, None)
        .get(app.url("/healthz"))
        .send()
        .await
        .is_ok());

    app.write_cert(&new_ca.server());
    let trusting_new = client(&app, &new_ca, None);
    let started = Instant::now();
    while trusting_new.get(app.url("/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never reloaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    app.write_cert(&("garbage".to_owned(), "more garbage".to_owned()));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status = trusting_new
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "the last good certificate is still served");
}

#[tokio::test]
async fn the_redirect_listener_sends_plain_http_to_https() {
    let ca = TestCa::new("CA");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = spawn_https(&ca.server(), None, |c| {
        c.server.redirect_http = Some(redirect)
    })
    .await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let response = loop {
        match plain
            .get(format!("http://{redirect}/v1/orders?limit=5"))
            .header("host", "hooks.example.com")
            .send()
            .await
        {
            Ok(response) => break response,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(err) => panic!("no redirect listener: {err}"),
        }
    };
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!(
            "https://hooks.example.com:{}/v1/orders?limit=5",
            app.address.port()
        )
        .as_str()
    );
}

#[tokio::test]
async fn a_source_requiring_tradingviews_certificate_accepts_only_that_certificate() {
    let server_ca = TestCa::new("server CA");
    let client_root = TestCa::new("test-only public root");
    let app = spawn_https(&server_ca.server(), Some(client_root.roots()), |c| {
        c.sources[1].require_client_cert = Some(ClientCertIssuer::Tradingview);
    })
    .await;
    let tradingview = client_root.client("TradingView, Inc.", "TradingView Webhooks");
    let impostor = client_root.client("Evil, Inc.", "TradingView Webhooks");
    let untrusted =
        TestCa::new("someone else's root").client("TradingView, Inc.", "TradingView Webhooks");

    let with_tv = client(&app, &server_ca, Some(&tradingview));
    assert_eq!(
        post(&with_tv, app.url("/v1/signals/tv"), token_signal("0.01")).await,
        202
    );

    let without = client(&app, &server_ca, None);
    assert_eq!(
        post(&without, app.url("/v1/signals/tv"), token_signal("0.02")).await,
        401
    );
    for (name, identity) in [("wrong subject", &impostor), ("untrusted root", &untrusted)] {
        let other = client(&app, &server_ca, Some(identity));
        let status = post(&other, app.url("/v1/signals/tv"), token_signal("0.03")).await;
        assert_eq!(status, 401, "{name}");
    }

    // The certificate is requested, not required: other sources are unaffected,
    // with or without a certificate.
    let body = market_buy("0.04");
    for (i, client) in [&without, &client(&app, &server_ca, Some(&untrusted))]
        .into_iter()
        .enumerate()
    {
        let id = format!("msg_other_source_{i}");
        let mut request = client
            .post(app.url("/v1/signals/hook"))
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in signed_headers(&id, &body) {
            request = request.header(name, value);
        }
        assert_eq!(request.send().await.unwrap().status(), 202);
    }
}

#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_cut_off_after_the_header_timeout() {
    let ca = TestCa::new("CA");
    let app = spawn_https(&ca.server(), None, |c| c.server.header_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    use tokio::io::AsyncReadExt as _;
    let mut buffer = [0u8; 64];
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buffer)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}
