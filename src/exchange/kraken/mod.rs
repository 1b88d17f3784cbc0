//! The Kraken REST client: signing, nonces, rate limits and outcome classification.
