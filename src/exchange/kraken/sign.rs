//! Kraken request signing: the `API-Sign` header and the credentials it is made from.
//!
//! `API-Sign` = base64(HMAC-SHA512(base64-decode(secret), uri_path ‖ SHA-256(nonce ‖ post_data))).
//! The caller builds the form body once, signs exactly that string and sends the same
//! string, so the signature always covers the bytes Kraken receives.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256, Sha512};

use crate::secret::{Secret, REDACTED};

type HmacSha512 = Hmac<Sha512>;

/// The API secret is not valid base64 (the message never contains the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Kraken API secret is not valid base64")]
pub struct SecretNotBase64;

/// A Kraken API key with its decoded secret, ready to sign requests.
///
/// `Debug` shows only the key id (a hash), never the key or the secret.
#[derive(Clone)]
pub struct Credentials {
    key: Secret,
    secret: SecretSlice<u8>,
    key_id: String,
}

impl Credentials {
    /// Decodes the base64 secret once, so each request only computes the HMAC.
    pub fn new(key: Secret, secret: &Secret) -> Result<Self, SecretNotBase64> {
        let decoded = BASE64
            .decode(secret.expose().trim())
            .map_err(|_| SecretNotBase64)?;
        let key_id = key_id(key.expose());
        Ok(Credentials {
            key,
            secret: SecretSlice::from(decoded),
            key_id,
        })
    }

    /// Hex SHA-256 of the API key: names the key in the `nonces` table and in logs
    /// without revealing it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The `API-Key` header value; call only when building that header.
    pub fn expose_key(&self) -> &str {
        self.key.expose()
    }

    /// The `API-Sign` value for one request.
    pub fn sign(&self, uri_path: &str, nonce: u64, post_data: &str) -> String {
        sign(self.secret.expose_secret(), uri_path, nonce, post_data)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .field("key", &REDACTED)
            .field("secret", &REDACTED)
            .finish()
    }
}

/// Hex SHA-256 of an API key.
pub fn key_id(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}

fn mac(secret: &[u8], uri_path: &str, nonce: u64, post_data: &str) -> HmacSha512 {
    let mut inner = Sha256::new();
    inner.update(nonce.to_string().as_bytes());
    inner.update(post_data.as_bytes());
    // HMAC is defined for keys of every length (long keys are hashed, short ones
    // padded), so `new_from_slice` cannot fail for HMAC-SHA512.
    let mut mac = HmacSha512::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(uri_path.as_bytes());
    mac.update(&inner.finalize());
    mac
}

/// Computes `API-Sign` from the decoded secret.
pub fn sign(secret: &[u8], uri_path: &str, nonce: u64, post_data: &str) -> String {
    BASE64.encode(
        mac(secret, uri_path, nonce, post_data)
            .finalize()
            .into_bytes(),
    )
}

/// Computes `API-Sign` from the secret as Kraken hands it out (base64).
pub fn sign_with_base64_secret(
    secret_b64: &str,
    uri_path: &str,
    nonce: u64,
    post_data: &str,
) -> Result<String, SecretNotBase64> {
    let secret = BASE64
        .decode(secret_b64.trim())
        .map_err(|_| SecretNotBase64)?;
    Ok(sign(&secret, uri_path, nonce, post_data))
}

/// Checks an `API-Sign` value in constant time (used by the fake Kraken in tests).
pub fn verify(
    secret: &[u8],
    uri_path: &str,
    nonce: u64,
    post_data: &str,
    signature_b64: &str,
) -> bool {
    let Ok(signature) = BASE64.decode(signature_b64) else {
        return false;
    };
    mac(secret, uri_path, nonce, post_data)
        .verify_slice(&signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    const BODY: &str =
        "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
    const EXPECTED: &str =
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==";

    #[test]
    fn krakens_published_test_vector_passes() {
        let signature =
            sign_with_base64_secret(SECRET, "/0/private/AddOrder", 1616492376594, BODY).unwrap();
        assert_eq!(signature, EXPECTED);
    }

    #[test]
    fn credentials_sign_like_the_free_function() {
        let creds = Credentials::new(Secret::new("key"), &Secret::new(SECRET)).unwrap();
        assert_eq!(
            creds.sign("/0/private/AddOrder", 1616492376594, BODY),
            EXPECTED
        );
    }

    #[test]
    fn verify_accepts_the_right_signature_and_nothing_else() {
        let secret = BASE64.decode(SECRET).unwrap();
        let path = "/0/private/AddOrder";
        assert!(verify(&secret, path, 1616492376594, BODY, EXPECTED));
        assert!(!verify(&secret, path, 1616492376595, BODY, EXPECTED));
        assert!(!verify(&secret, path, 1616492376594, "x", EXPECTED));
        assert!(!verify(&secret, path, 1616492376594, BODY, ""));
        assert!(!verify(&secret, path, 1616492376594, BODY, &EXPECTED[..40]));
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused_without_echoing_it() {
        let err = Credentials::new(Secret::new("k"), &Secret::new("not base64!!")).unwrap_err();
        assert!(!err.to_string().contains("not base64!!"));
    }

    #[test]
    fn debug_output_shows_neither_key_nor_secret() {
        let creds = Credentials::new(Secret::new("my-api-key"), &Secret::new(SECRET)).unwrap();
        let shown = format!("{creds:?}");
        assert!(!shown.contains("my-api-key"));
        assert!(!shown.contains(&SECRET[..20]));
        assert!(shown.contains(&key_id("my-api-key")));
    }
}
