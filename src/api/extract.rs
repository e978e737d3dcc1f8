//! The JSON body extractor: a size limit checked while reading, parse errors as 422 with the field
//! path, never a 500 for bad input. Any content type is accepted (clients are careless with it).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// The body limit in bytes (app data; the default is 50 MiB).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(50 * 1024 * 1024)
    }
}

/// A JSON request body parsed into `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map(|l| l.0)
            .or_else(|| req.app_data::<BodyLimit>().map(|l| l.0))
            .unwrap_or_else(|| BodyLimit::default().0);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::BodyTooLarge { limit });
            }
            let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::MalformedJson(format!("cannot read the body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::BodyTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(ApiJson)
        })
    }
}

/// Parse a JSON body: syntax errors are `MalformedJson`, type errors name the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    // Syntax first, so that any unparsable body is reported as such whatever its first token.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(ApiError::MalformedJson(e.to_string()));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path != "." && !path.is_empty() {
                return Err(ApiError::Validation(vec![FieldError {
                    loc: std::iter::once("body".to_string())
                        .chain(path.split('.').filter(|s| !s.is_empty()).map(String::from))
                        .collect(),
                    msg: strip_position(&inner.to_string()),
                }]));
            }
            let fields = culprits::<T>(body);
            if fields.is_empty() {
                Err(ApiError::Validation(vec![FieldError {
                    loc: vec!["body".into()],
                    msg: strip_position(&inner.to_string()),
                }]))
            } else {
                Err(ApiError::Validation(fields))
            }
        }
    }
}

/// Which top-level fields make `T` fail (flattened structs lose the path): each field is tried
/// alone (with `type`, the tag of tagged requests). Empty when the fault is not a field's.
fn culprits<T: DeserializeOwned>(body: &[u8]) -> Vec<FieldError> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return vec![];
    };
    let mut base = serde_json::Map::new();
    if let Some(t) = map.get("type") {
        base.insert("type".into(), t.clone());
    }
    if serde_json::from_value::<T>(serde_json::Value::Object(base.clone())).is_err() {
        return vec![];
    }
    let mut out = Vec::new();
    for (k, v) in &map {
        if k == "type" {
            continue;
        }
        let mut probe = base.clone();
        probe.insert(k.clone(), v.clone());
        if let Err(e) = serde_json::from_value::<T>(serde_json::Value::Object(probe)) {
            out.push(FieldError::new(k, strip_position(&e.to_string())));
        }
    }
    out
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct T {
        #[allow(dead_code)]
        width: Option<u32>,
    }

    #[test]
    fn errors_are_client_errors_with_the_field() {
        assert!(matches!(parse_json::<T>(b"{"), Err(ApiError::MalformedJson(_))));
        assert!(matches!(parse_json::<T>(b"  "), Err(ApiError::MalformedJson(_))));
        match parse_json::<T>(br#"{"width": "wide"}"#) {
            Err(ApiError::Validation(f)) => assert_eq!(f[0].loc, vec!["body", "width"]),
            other => panic!("{other:?}"),
        }
        assert!(parse_json::<T>(br#"{"width": 8, "unknown": 1}"#).is_ok());
        assert!(matches!(parse_json::<T>(b"[1, 2"), Err(ApiError::MalformedJson(_))));
    }
}
