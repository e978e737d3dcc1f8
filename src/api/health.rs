//! Liveness, readiness and Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::runtime::backend::DeviceStatus;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub device: String,
    pub provider: String,
    pub model: Option<String>,
    pub active_jobs: usize,
    pub max_batch: usize,
    pub ready: bool,
    pub last_error: Option<String>,
}

impl From<DeviceStatus> for DeviceView {
    fn from(d: DeviceStatus) -> Self {
        DeviceView {
            device: d.device,
            provider: d.provider,
            model: d.model,
            active_jobs: d.active_jobs,
            max_batch: d.max_batch,
            ready: d.ready,
            last_error: d.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    /// True once every device worker has loaded its model and warmed up, and the server is not draining.
    pub ready: bool,
    pub draining: bool,
    pub queue_depth: usize,
    pub queue_capacity: usize,
    pub in_flight: usize,
    pub devices: Vec<DeviceView>,
}

/// Liveness: 200 while the process serves HTTP.
#[utoipa::path(tag = "health", responses((status = 200, description = "Alive", body = HealthResponse)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok".into() })
}

/// Readiness: 200 once the backend is ready; 503 while loading or draining.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Ready for traffic", body = ReadyResponse),
    (status = 503, description = "Loading or draining", body = ReadyResponse),
))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let backend = &state.backend;
    let draining = state.is_draining();
    let ready = backend.is_ready() && !draining;
    let body = ReadyResponse {
        ready,
        draining,
        queue_depth: backend.queue_depth(),
        queue_capacity: backend.queue_capacity(),
        in_flight: backend.in_flight(),
        devices: backend.devices().into_iter().map(DeviceView::from).collect(),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics (OpenMetrics text): sdgate_queue_depth, sdgate_jobs_total{outcome},
/// sdgate_job_seconds, sdgate_step_seconds, sdgate_images_total, sdgate_errors_total{type},
/// sdgate_http_requests_total{route,status}, ...
#[utoipa::path(tag = "health", responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode(state.backend.as_ref()))
}
