//! Certificates from an ACME CA, end to end against Let's Encrypt's test CA
//! `pebble` (Debian package `pebble`, installed by `.ci/run`): a certificate is
//! obtained over TLS-ALPN-01 on the HTTPS port, served, and renewed without a
//! restart; with the directory unreachable the service still runs and never panics.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::oneshot;
use tradehook::app::{App, Overrides};
use tradehook::tls::TrustOverrides;

use crate::helpers::*;

const DOMAIN: &str = "hooks.tradehook.test";
/// Pebble's certificate lifetime here; renewal comes after two thirds of it.
const VALIDITY_SECS: u64 = 12;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pebble needs to be installed; CI installs it, elsewhere the test says how.
fn pebble_installed() -> bool {
    let found = Command::new("pebble").arg("-h").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "pebble is not installed (apt-get install pebble)"
        );
        eprintln!("SKIPPED: pebble is not installed (apt-get install pebble)");
    }
    found
}

/// Pebble and its fake DNS on free ports, validating TLS-ALPN-01 on `tls_port` and
/// serving its directory with a certificate from a root made here.
struct Pebble {
    directory: String,
    management: String,
    https_roots: Arc<rustls::RootCertStore>,
    _processes: Vec<Killed>,
    _dir: tempfile::TempDir,
}

fn start_pebble(tls_port: u16) -> Pebble {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
    let (dns, wfe, management) = (free_port(), free_port(), free_port());
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{wfe}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": dir.path().join("cert.pem"),
        "privateKey": dir.path().join("key.pem"),
        "httpPort": 5002,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
        "certificateValidityPeriod": VALIDITY_SECS,
    }});
    let config_path = dir.path().join("pebble.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let challtestsrv = Command::new("pebble-challtestsrv")
        .args([
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-defaultIPv4",
            "127.0.0.1",
        ])
        .args([
            "-defaultIPv6",
            "",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
        ])
        .args(["-management", &format!("127.0.0.1:{}", free_port())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv starts");
    let pebble = Command::new("pebble")
        .arg("-config")
        .arg(&config_path)
        .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble starts");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    Pebble {
        directory: format!("https://127.0.0.1:{wfe}/dir"),
        management: format!("https://127.0.0.1:{management}"),
        https_roots: Arc::new(roots),
        _processes: vec![Killed(challtestsrv), Killed(pebble)],
        _dir: dir,
    }
}

impl Pebble {
    /// The root pebble issues certificates under (random at each start).
    async fn issuing_root(&self) -> Vec<u8> {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Ok(response) = client
                .get(format!("{}/roots/0", self.management))
                .send()
                .await
            {
                if response.status().is_success() {
                    return response.bytes().await.unwrap().to_vec();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "pebble did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The certificate the service presents for `DOMAIN`, if a handshake trusting
/// `root` succeeds.
async fn served_certificate(address: SocketAddr, root: &[u8]) -> Option<CertificateDer<'static>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(root) {
        roots.add(cert.ok()?).ok()?;
    }
    let config = rustls::ClientConfig::builder_with_provider(tradehook::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let name = ServerName::try_from(DOMAIN).unwrap();
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, stream))
        .await
        .ok()?
        .ok()?;
    tls.get_ref().1.peer_certificates()?.first().cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_is_obtained_from_pebble_served_and_renewed() {
    if !pebble_installed() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let pebble = start_pebble(address.port());
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&format!("sqlite://{}", dir.path().join("t.db").display()));
    config.server.acme_domains = vec![DOMAIN.to_owned()];
    config.server.acme_email = Some("ops@tradehook.test".to_owned());
    config.server.acme_directory = pebble.directory.clone();
    config.server.acme_cache_dir = dir.path().join("acme");
    config.validate().unwrap();
    let overrides = Overrides {
        trust: TrustOverrides {
            client_certs: None,
            acme_directory: Some(pebble.https_roots.clone()),
        },
        ..Overrides::default()
    };
    let app = App::build(config, overrides).await.unwrap();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    let root = pebble.issuing_root().await;

    let started = Instant::now();
    let first = loop {
        if let Some(cert) = served_certificate(address, &root).await {
            break cert;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no certificate obtained"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        std::fs::read_dir(dir.path().join("acme")).unwrap().count() > 0,
        "nothing cached"
    );

    let started = Instant::now();
    loop {
        if let Some(cert) = served_certificate(address, &root).await {
            if cert != first {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(VALIDITY_SECS + 40),
            "the certificate was not renewed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn an_unreachable_acme_directory_leaves_the_service_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&format!("sqlite://{}", dir.path().join("t.db").display()));
    config.server.acme_domains = vec![DOMAIN.to_owned()];
    config.server.acme_directory = format!("https://127.0.0.1:{}/dir", free_port());
    config.server.acme_cache_dir = dir.path().join("acme");
    config.validate().unwrap();
    let app = App::build(config, Overrides::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // No certificate yet: handshakes fail, the listener is still there.
    assert!(tokio::net::TcpStream::connect(address).await.is_ok());
    assert!(!server.is_finished(), "the server stopped");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(45), server)
        .await
        .expect("shuts down")
        .expect("no panic")
        .expect("serves without error");
}
