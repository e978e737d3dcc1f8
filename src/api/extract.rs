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
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(ApiError::MalformedJson(inner.to_string())),
                Category::Data => {
                    let field = if path == "." { "body".to_string() } else { path };
                    let msg = strip_position(&inner.to_string());
                    Err(ApiError::Validation(vec![FieldError {
                        loc: std::iter::once("body".to_string())
                            .chain(
                                field
                                    .split('.')
                                    .filter(|s| !s.is_empty() && *s != "body")
                                    .map(String::from),
                            )
                            .collect(),
                        msg,
                    }]))
                }
            }
        }
    }
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
    }
}
