//! A certificate from PEM files (`server.tls_cert`, `server.tls_key`), reloaded
//! without a restart when the files change. A new pair that does not load (bad PEM,
//! a key that does not match the certificate, a half-written file) is logged and the
//! certificate in use is kept.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Serves the last good certificate from `cert`/`key`.
pub struct FileCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file contents last seen, loaded or not, so a bad pair is logged once.
    seen: RwLock<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for FileCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCert")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl FileCert {
    /// Loads the pair; an error names the file at fault.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<FileCert> {
        let (cert_pem, key_pem) = read_pair(cert, key)?;
        let certified = certified_key(&cert_pem, &key_pem)
            .map_err(|err| anyhow::anyhow!("{} / {}: {err}", cert.display(), key.display()))?;
        Ok(FileCert {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(certified)),
            seen: RwLock::new((cert_pem, key_pem)),
        })
    }

    /// Re-reads the files; swaps the certificate in when they changed and load.
    /// Returns true when a new certificate is now served.
    pub fn reload(&self) -> bool {
        let (cert_pem, key_pem) = match read_pair(&self.cert, &self.key) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(error = %err, "TLS certificate files unreadable; keeping the current certificate");
                return false;
            }
        };
        {
            let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
            if seen.0 == cert_pem && seen.1 == key_pem {
                return false;
            }
        }
        let loaded = certified_key(&cert_pem, &key_pem);
        *self.seen.write().unwrap_or_else(|e| e.into_inner()) = (cert_pem, key_pem);
        match loaded {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(err) => {
                tracing::warn!(
                    cert = %self.cert.display(),
                    key = %self.key.display(),
                    error = %err,
                    "the changed TLS certificate or key does not load; keeping the current certificate"
                );
                false
            }
        }
    }

    /// Checks the files every `every` for as long as the process runs.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let this = this.clone();
                // File reads and key parsing are blocking work.
                let _ = tokio::task::spawn_blocking(move || this.reload()).await;
            }
        })
    }
}

impl ResolvesServerCert for FileCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn read_pair(cert: &Path, key: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))
    };
    Ok((read(cert)?, read(key)?))
}

/// Parses a PEM chain and key into a key pair rustls can serve, checking they match.
fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("certificate PEM: {err}"))?;
    if chain.is_empty() {
        return Err("no certificate in the certificate file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| format!("key PEM: {err}"))?;
    let signing = super::provider()
        .key_provider
        .load_private_key(key)
        .map_err(|err| format!("private key: {err}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|err| format!("the key does not match the certificate: {err}"))?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        (cert.cert.pem(), cert.signing_key.serialize_pem())
    }

    #[test]
    fn a_bad_new_pair_keeps_the_old_certificate_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let (cert, key) = pair("one.test");
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        let files = FileCert::load(&cert_path, &key_path).unwrap();
        let first = files.current.read().unwrap().cert[0].clone();

        std::fs::write(&cert_path, "not a certificate").unwrap();
        assert!(!files.reload());
        assert_eq!(files.current.read().unwrap().cert[0], first);

        let (_, other_key) = pair("two.test");
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &other_key).unwrap();
        assert!(
            !files.reload(),
            "a key of another certificate must not load"
        );

        let (cert2, key2) = pair("two.test");
        std::fs::write(&cert_path, &cert2).unwrap();
        std::fs::write(&key_path, &key2).unwrap();
        assert!(files.reload());
        assert_ne!(files.current.read().unwrap().cert[0], first);
        assert!(!files.reload(), "unchanged files are not reloaded again");
    }

    #[test]
    fn an_unreadable_file_at_start_up_is_named() {
        let err = FileCert::load(Path::new("/nonexistent/c.pem"), Path::new("/k.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }
}
