//! Lenient field parsers, as forgiving as the WebUI's pydantic models: `null` means "not set",
//! integers may arrive as `512.0` or `"512"`, booleans as `0`/`1` or `"true"`.

use serde::Deserialize;
use serde::de::{Deserializer, Error};
use serde_json::Value;

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", &s[..s.floor_char_boundary(40)])
    } else {
        s
    }
}

pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    let bad = |v: &Value| D::Error::custom(format!("expected an integer, got {}", describe(v)));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                Ok(Some(f as i64))
            } else {
                Err(bad(&Value::Number(n)))
            }
        }
        Some(Value::String(s)) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| bad(&Value::String(s)))
        }
        Some(other) => Err(bad(&other)),
    }
}

pub fn opt_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    let bad = |v: &Value| D::Error::custom(format!("expected a number, got {}", describe(v)));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| bad(&Value::Number(n))),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(bad(&Value::String(s))),
        },
        Some(other) => Err(bad(&other)),
    }
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    let bad = |v: &Value| D::Error::custom(format!("expected true or false, got {}", describe(v)));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(bad(&Value::Number(n))),
        },
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(bad(&Value::String(s))),
        },
        Some(other) => Err(bad(&other)),
    }
}

/// A string; numbers are turned into their text (pydantic v1 does the same).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(D::Error::custom(format!("expected a string, got {}", describe(&other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_int")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "opt_float")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
    }

    fn t(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn accepts_what_pydantic_accepts() {
        let v = t(r#"{"i": 512.0, "f": "7.5", "b": 1}"#).unwrap();
        assert_eq!((v.i, v.f, v.b), (Some(512), Some(7.5), Some(true)));
        let v = t(r#"{"i": "20", "f": 7, "b": "false"}"#).unwrap();
        assert_eq!((v.i, v.f, v.b), (Some(20), Some(7.0), Some(false)));
        let v = t(r#"{"i": null}"#).unwrap();
        assert_eq!((v.i, v.f, v.b), (None, None, None));
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            r#"{"i": 1.5}"#,
            r#"{"i": "x"}"#,
            r#"{"i": [1]}"#,
            r#"{"i": 1e300}"#,
            r#"{"f": "nan"}"#,
            r#"{"b": 2}"#,
            r#"{"b": "maybe"}"#,
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }
}
