//! HTTP Basic authentication (--api-auth) over every route: the API, docs, openapi.json, metrics,
//! images, the page and the default 404. Only /health and /ready may be left open, with
//! --public-probes. Passwords are compared as SHA-256 digests in constant time; credentials are never
//! logged.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::config::Credentials;

/// The accepted credentials, as digests of "user:password".
#[derive(Clone, Default)]
pub struct AuthTable {
    digests: Vec<[u8; 32]>,
    public_probes: bool,
}

impl std::fmt::Debug for AuthTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthTable(<{} redacted>)", self.digests.len())
    }
}

impl AuthTable {
    pub fn new(credentials: Option<&Credentials>, public_probes: bool) -> Self {
        let digests = credentials
            .map(|c| {
                c.pairs()
                    .iter()
                    .map(|(u, p)| Sha256::digest(format!("{u}:{p}").as_bytes()).into())
                    .collect()
            })
            .unwrap_or_default();
        AuthTable { digests, public_probes }
    }

    pub fn enabled(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Does this `Authorization` header value carry valid credentials?
    pub fn check(&self, header: Option<&[u8]>) -> bool {
        let Some(decoded) = header.and_then(basic_payload) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(&decoded).into();
        // Compare against every entry so the time does not depend on which one matches.
        let mut ok = subtle::Choice::from(0);
        for d in &self.digests {
            ok |= d.ct_eq(&digest);
        }
        bool::from(ok)
    }

    fn is_open(&self, path: &str) -> bool {
        !self.enabled() || (self.public_probes && matches!(path, "/health" | "/ready"))
    }
}

/// The decoded "user:password" of a `Basic` header value.
fn basic_payload(value: &[u8]) -> Option<Vec<u8>> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()
}

pub async fn require_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let allowed = match req.app_data::<web::Data<AppState>>() {
        Some(state) => {
            let table = &state.auth;
            table.is_open(req.path())
                || table.check(
                    req.headers()
                        .get(actix_web::http::header::AUTHORIZATION)
                        .map(|v| v.as_bytes()),
                )
        }
        // No state means a misconfigured app: refuse rather than serve unauthenticated.
        None => false,
    };
    if allowed {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    Ok(req
        .into_response(ApiError::Unauthorized.error_response())
        .map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_pass: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
    }

    #[test]
    fn checks_basic_credentials() {
        let creds: Credentials = "alice:pw1,bob:pw:2".parse().unwrap();
        let t = AuthTable::new(Some(&creds), false);
        assert!(t.check(Some(header("alice:pw1").as_bytes())));
        assert!(t.check(Some(header("bob:pw:2").as_bytes())));
        assert!(t.check(Some(header("bob:pw:2").replace("Basic", "basic").as_bytes())));
        assert!(!t.check(Some(header("alice:pw2").as_bytes())));
        assert!(!t.check(Some(header("alice").as_bytes())));
        assert!(!t.check(Some(b"Bearer abc")));
        assert!(!t.check(Some(b"Basic !!!")));
        assert!(!t.check(None));
        assert!(!t.is_open("/health"));
        assert!(AuthTable::new(Some(&creds), true).is_open("/ready"));
        assert!(!AuthTable::new(Some(&creds), true).is_open("/metrics"));
        assert!(AuthTable::new(None, false).is_open("/sdapi/v1/txt2img"));
    }
}
