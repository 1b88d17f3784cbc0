//! Strict JSON reading shared by the JSON formats: one object and nothing after it,
//! no duplicate keys at any depth, errors naming the field without serde's
//! line/column noise.

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::signal::FieldError;

/// Reads `body` as exactly one JSON object of type `T`.
pub fn object<T: DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    // serde would also read a struct from a JSON array; a signal is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(FieldError::new("body", "the signal must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(describe)?;
    deserializer.end().map_err(|_| {
        FieldError::new(
            "body",
            "trailing data after the JSON object; send exactly one object",
        )
    })?;
    Ok(value)
}

/// Reads the fields a format uses out of an object already read by [`raw_object`].
pub fn fields<T: DeserializeOwned>(map: &Map<String, Value>) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Value::Object(map.clone())).map_err(describe)
}

/// A serde error as a [`FieldError`] naming the field it is about.
fn describe<E: std::fmt::Display>(err: serde_path_to_error::Error<E>) -> FieldError {
    let path = err.path().to_string();
    let message = strip_location(&err.into_inner().to_string());
    // The path names the field for type errors and unknown fields alike; it is
    // `.` or `?` when the body itself is not a JSON object.
    if let Some(missing) = missing_field_name(&message) {
        let field = if path == "." {
            missing
        } else {
            format!("{path}.{missing}")
        };
        FieldError::new(&field, message)
    } else if path == "." || path == "?" || path.is_empty() {
        FieldError::new("body", message)
    } else {
        FieldError::new(&path, message)
    }
}

/// Reads `body` as one JSON object kept whole (for the audit record), refusing
/// duplicate keys at any depth and trailing data.
pub fn raw_object(body: &[u8]) -> Result<Map<String, Value>, FieldError> {
    let StrictValue(value) = object(body)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(FieldError::new("body", "the signal must be a JSON object")),
    }
}

/// serde_json appends " at line X column Y", which says nothing to a webhook caller.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_owned(),
        None => message.to_owned(),
    }
}

/// Extracts `foo` from serde's "missing field `foo`".
fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// The key under which serde_json (`arbitrary_precision`) passes a number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A JSON value read refusing duplicate object keys.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // serde_json's `arbitrary_precision` hands a number over as this one-key map.
            if key == NUMBER_TOKEN && out.is_empty() {
                let text: String = map.next_value()?;
                let number = text.parse().map_err(serde::de::Error::custom)?;
                return Ok(StrictValue(Value::Number(number)));
            }
            let StrictValue(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{}`",
                    key.escape_debug()
                )));
            }
            out.insert(key, value);
        }
        Ok(StrictValue(Value::Object(out)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(value)) = seq.next_element()? {
            out.push(value);
        }
        Ok(StrictValue(Value::Array(out)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_none<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<StrictValue, E> {
        serde_json::Number::from_f64(v)
            .map(|n| StrictValue(Value::Number(n)))
            .ok_or_else(|| E::custom("not a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_data_and_duplicate_keys_are_refused() {
        assert!(raw_object(br#"{"a":1}"#).is_ok());
        assert!(raw_object(b" {\"a\":1} \n").is_ok());
        for body in [
            &br#"{"a":1}xyz"#[..],
            br#"{"a":1}{"a":2}"#,
            br#"{"a":1,"a":2}"#,
            br#"{"o":{"b":1,"b":1}}"#,
            br#"[1]"#,
            b"",
            b"TOKEN=x",
        ] {
            assert!(
                raw_object(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn trailing_data_is_named_as_such() {
        let err = raw_object(br#"{"a":1} {"a":1}"#).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.contains("trailing"), "{}", err.message);
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let map = raw_object(br#"{"v":0.123456789012345678901}"#).unwrap();
        assert_eq!(map["v"].to_string(), "0.123456789012345678901");
    }
}
