//! Reading configuration from the environment: `*_FILE` secrets, Kraken credentials,
//! and figment's errors rendered without the offending value.

use std::path::Path;

use super::{invalid, ConfigError, ENV_PREFIX};

/// Reads a secret file, dropping the trailing newline editors add.
pub(super) fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// Collects `TRADEHOOK_<SECTION>__<KEY>_FILE` and `KRAKEN_API_{KEY,SECRET}[_FILE]` as
/// dotted config keys with the secret values.
pub(super) fn secret_files_from_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut values = Vec::new();
    for (name, value) in std::env::vars() {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some(rest) = rest.strip_suffix("_FILE") else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let secret = read_secret_file(Path::new(&value)).map_err(|msg| invalid(&name, msg))?;
        values.push((key, secret));
    }
    for (var, key) in [
        ("KRAKEN_API_KEY", "exchange.api_key"),
        ("KRAKEN_API_SECRET", "exchange.api_secret"),
    ] {
        if let Ok(path) = std::env::var(format!("{var}_FILE")) {
            let secret = read_secret_file(Path::new(&path))
                .map_err(|msg| invalid(format!("{var}_FILE"), msg))?;
            values.push((key.to_owned(), secret));
        } else if let Ok(secret) = std::env::var(var) {
            values.push((key.to_owned(), secret));
        }
    }
    Ok(values)
}

/// Figment's message plus where the value came from, never the value itself (it may
/// be a secret).
pub(super) fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!(" (key `{}`)", e.path.join("."))
            };
            let origin = e
                .metadata
                .as_ref()
                .map(|m| format!(" in {}", m.name))
                .unwrap_or_default();
            // The actual value is left out: it may be a secret typed wrongly.
            let kind = match &e.kind {
                figment::error::Kind::InvalidType(_, expected) => {
                    format!("invalid type: expected {expected}")
                }
                figment::error::Kind::InvalidValue(_, expected) => {
                    format!("invalid value: expected {expected}")
                }
                other => other.to_string(),
            };
            format!("{kind}{key}{origin}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}
