//! Hostile bodies through HTTP for every format on both kinds of authentication:
//! golden payloads with random bytes flipped, cut or inserted, and random bytes
//! alone. Never a `5xx`, never a panic (which would be a `500`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::formats::{now, post, with_format_sources, OCTOBOT, THREE_COMMAS, TV_ALERT};
use crate::helpers::*;

/// `body` with a few random edits.
fn mutate(rng: &mut StdRng, body: &str) -> Vec<u8> {
    let mut bytes = body.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..3) {
            0 if at < bytes.len() => bytes[at] = rng.gen(),
            1 => bytes.insert(at, rng.gen()),
            _ => bytes.truncate(at.max(1)),
        }
    }
    bytes
}

#[tokio::test]
async fn mutated_and_random_bodies_are_never_answered_5xx() {
    let app = spawn_app_with(with_format_sources).await;
    let mut rng = StdRng::seed_from_u64(10);
    let golden = [
        ("tradingview", TV_ALERT.replace("TIMENOW", &now())),
        ("3commas", THREE_COMMAS.replace("TIMENOW", &now())),
        ("octobot", OCTOBOT.to_owned()),
    ];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..60 {
        for (format, body) in &golden {
            for kind in ["token", "hmac"] {
                let bytes = if round % 4 == 3 {
                    (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect()
                } else {
                    mutate(&mut rng, body)
                };
                // Bodies that are not UTF-8 go out lossily: reqwest posts text here.
                let text = String::from_utf8_lossy(&bytes).to_string();
                let source = format!("{format}-{kind}");
                let status = post(&app, &source, "text/plain", &text).await.status();
                assert!(status.as_u16() < 500, "{source}: {status} for {text:?}");
                *statuses.entry(status.as_u16()).or_default() += 1;
            }
        }
    }
    assert!(statuses.contains_key(&400), "{statuses:?}");
}
