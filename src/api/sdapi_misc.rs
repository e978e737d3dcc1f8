//! /sdapi/v1 png-info, extra-single-image, memory, cmd-flags.

use actix_web::{HttpResponse, get, post, web};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::responses::{ExtrasSingleImageRequest, MemoryResponse, PngInfoRequest, PngInfoResponse};
use crate::images::{ParsedInfotext, read_metadata_base64};

/// The text chunks of a PNG: `info` is the infotext, `parameters` its parsed fields.
#[utoipa::path(tag = "sdapi", request_body = PngInfoRequest, responses(
    (status = 200, description = "OK", body = PngInfoResponse),
    (status = 404, description = "No image sent", body = ErrorBody),
    (status = 422, description = "Not a readable PNG", body = ErrorBody),
))]
#[post("/sdapi/v1/png-info")]
pub async fn png_info(state: web::Data<AppState>, body: ApiJson<PngInfoRequest>) -> Result<HttpResponse, ApiError> {
    let image = body.0.image;
    if image.trim().is_empty() {
        return Err(ApiError::NotFound("Image not found".into()));
    }
    let limits = state.settings.limits.image;
    let (info, items) = web::block(move || -> Result<(String, Map<String, Value>), ApiError> {
        let meta = read_metadata_base64(&image, &limits)?;
        let items = meta
            .items
            .into_iter()
            .map(|c| (c.keyword, Value::from(c.text)))
            .collect();
        Ok((meta.infotext.unwrap_or_default(), items))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let parameters: Map<String, Value> = ParsedInfotext::parse(&info).to_webui_dict().into_iter().collect();
    Ok(HttpResponse::Ok().json(PngInfoResponse {
        info,
        items,
        parameters,
    }))
}

/// Upscale one image. Not available yet: sdgate has no upscaler, so a valid request is answered 501.
#[utoipa::path(tag = "sdapi", request_body = ExtrasSingleImageRequest, responses(
    (status = 501, description = "No upscaler in this build", body = ErrorBody),
    (status = 422, description = "Invalid request", body = ErrorBody),
))]
#[post("/sdapi/v1/extra-single-image")]
pub async fn extra_single_image(body: ApiJson<ExtrasSingleImageRequest>) -> Result<HttpResponse, ApiError> {
    if body.0.image.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(ApiError::validation("image", "an image is required"));
    }
    Err(ApiError::NotImplemented(
        "extra-single-image: sdgate has no upscaler (ESRGAN, Lanczos, ...) yet; the request was valid".into(),
    ))
}

fn ram() -> Value {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return json!({"error": "unavailable"});
    };
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    match (field("MemTotal:"), field("MemAvailable:")) {
        (Some(total), Some(free)) => json!({"free": free, "used": total.saturating_sub(free), "total": total}),
        _ => json!({"error": "unavailable"}),
    }
}

/// Machine memory and the device workers.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = MemoryResponse)))]
#[get("/sdapi/v1/memory")]
pub async fn memory(state: web::Data<AppState>) -> HttpResponse {
    let devices = state.backend.devices();
    let cuda = if devices.is_empty() {
        json!({"error": "unavailable"})
    } else {
        json!({"devices": devices})
    };
    HttpResponse::Ok().json(MemoryResponse { ram: ram(), cuda })
}

/// The server's effective configuration (credentials redacted).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Object)))]
#[get("/sdapi/v1/cmd-flags")]
pub async fn cmd_flags(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&state.settings.cmd_flags)
}
