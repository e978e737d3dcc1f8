//! Request timing (X-Process-Time on every answer, as the WebUI sends), request and error counters,
//! and CORS (off unless --cors-allow-origins).

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use super::AppState;
use super::error::ErrorType;

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut res = next.call(req).await?;
    let secs = start.elapsed().as_secs_f64();
    if let Ok(v) = HeaderValue::from_str(&format!("{secs:.4}")) {
        res.headers_mut().insert(HeaderName::from_static("x-process-time"), v);
    }
    if let Some(state) = state {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        state.metrics.http_request(&route, res.status().as_u16());
        if let Some(ErrorType(kind)) = res.response().extensions().get::<ErrorType>() {
            state.metrics.error(kind);
        }
    }
    Ok(res)
}

fn allowed_origin(state: &AppState, origin: &str) -> Option<HeaderValue> {
    let list = &state.settings.cors_allow_origins;
    if list.iter().any(|o| o == "*") {
        return HeaderValue::from_str(origin).ok();
    }
    list.iter()
        .any(|o| o.trim_end_matches('/') == origin.trim_end_matches('/'))
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allow = match (&state, &origin) {
        (Some(s), Some(o)) if !s.settings.cors_allow_origins.is_empty() => allowed_origin(s, o),
        _ => None,
    };
    let Some(allow) = allow else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let requested_headers = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        let mut res = HttpResponse::build(StatusCode::NO_CONTENT);
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, allow))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, DELETE, OPTIONS"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .insert_header((header::VARY, "Origin"));
        if let Some(h) = requested_headers {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, h));
        }
        return Ok(req.into_response(res.finish()).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-process-time, x-job-id, x-save-error, retry-after, location"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    Ok(res.map_into_left_body())
}
