//! /sdapi/v1 progress, interrupt, skip, options and the refresh routes.
//!
//! The WebUI has one global job; sdgate has many. progress, interrupt and skip act on the oldest
//! running job (progress reports the oldest queued one while nothing runs, so clients that poll until
//! job_count is 0 wait for it). Per-job progress is in /v1/jobs/{id}.

use actix_web::{HttpResponse, get, post, web};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::responses::{ProgressResponse, ProgressState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// Leave out the preview image (true/false, or 1/0, yes/no, on/off as the WebUI's pydantic takes).
    #[serde(default, deserialize_with = "super::lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub skip_current_image: Option<bool>,
}

/// Progress of the oldest running job, in the WebUI's shape (0 and an idle state when nothing runs).
#[utoipa::path(tag = "sdapi", params(ProgressQuery), responses((status = 200, description = "OK", body = ProgressResponse),
    (status = 422, description = "A query value that is not a boolean", body = ErrorBody)))]
#[get("/sdapi/v1/progress")]
pub async fn progress(state: web::Data<AppState>, query: web::Query<ProgressQuery>) -> HttpResponse {
    HttpResponse::Ok().json(progress_now(&state, query.skip_current_image.unwrap_or(false)))
}

pub fn progress_now(state: &AppState, skip_current_image: bool) -> ProgressResponse {
    let Some(active) = state.jobs.current() else {
        return ProgressResponse {
            state: ProgressState {
                job_timestamp: "0".into(),
                ..ProgressState::default()
            },
            ..ProgressResponse::default()
        };
    };
    let p = active.control.progress();
    let job_count = p.job_count.max(1);
    let (fraction, eta_relative) = match active.started {
        None => (0.0, 0.0),
        Some(started) => {
            let webui = 0.01
                + p.job_no as f64 / job_count as f64
                + if p.sampling_steps > 0 {
                    p.sampling_step as f64 / p.sampling_steps as f64 / job_count as f64
                } else {
                    0.0
                };
            let frac = if p.steps_total > 0 {
                f64::from(p.fraction()).max(0.01)
            } else {
                webui
            };
            let elapsed = started.elapsed().as_secs_f64();
            (frac.min(1.0), (elapsed / frac - elapsed).max(0.0))
        }
    };
    let stamp = active.record.started_at.unwrap_or(active.record.created_at);
    let current_image = if skip_current_image {
        None
    } else {
        p.preview_png
            .as_deref()
            .map(|png| base64::engine::general_purpose::STANDARD.encode(png))
    };
    ProgressResponse {
        progress: fraction,
        eta_relative,
        state: ProgressState {
            skipped: false,
            interrupted: active.control.is_interrupted(),
            stopping_generation: false,
            job: active.record.id.to_string(),
            job_count: job_count as i64,
            job_timestamp: stamp.format("%Y%m%d%H%M%S").to_string(),
            job_no: p.job_no as i64,
            sampling_step: p.sampling_step as i64,
            sampling_steps: p.sampling_steps as i64,
        },
        current_image,
        textinfo: None,
        current_task: Some(active.record.id.to_string()),
    }
}

/// Interrupt the oldest running job: it ends with the images finished so far. Answers {}.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "{}", body = Object)))]
#[post("/sdapi/v1/interrupt")]
pub async fn interrupt(state: web::Data<AppState>) -> HttpResponse {
    if let Some(active) = state.jobs.current().filter(|a| a.started.is_some()) {
        let _ = state.jobs.cancel(active.record.id);
    }
    HttpResponse::Ok().json(serde_json::json!({}))
}

/// Skip the current batch of the oldest running job (it goes on with the next n_iter). Answers null.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "null")))]
#[post("/sdapi/v1/skip")]
pub async fn skip(state: web::Data<AppState>) -> HttpResponse {
    if let Some(active) = state.jobs.current().filter(|a| a.started.is_some()) {
        active.control.skip();
    }
    HttpResponse::Ok().json(Value::Null)
}

/// Every setting, including sd_model_checkpoint (the current model's title) and sd_checkpoint_hash.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Object,
    example = json!({"sd_model_checkpoint": "v1-5-pruned-emaonly [6ce0161689]", "CLIP_stop_at_last_layers": 1,
        "eta_noise_seed_delta": 0, "randn_source": "GPU"}))))]
#[get("/sdapi/v1/options")]
pub async fn get_options(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.options.snapshot(&state.registry))
}

/// Change settings (all or nothing). sd_model_checkpoint must be a known title, name or hash; it
/// switches the model for jobs accepted from now on (queued jobs keep theirs). Unknown keys are
/// ignored. Answers null.
#[utoipa::path(tag = "sdapi", request_body(content = Object, example = json!({"sd_model_checkpoint": "v1-5-pruned-emaonly [6ce0161689]"})),
    responses((status = 200, description = "null"), (status = 422, description = "Unknown model or bad value", body = ErrorBody)))]
#[post("/sdapi/v1/options")]
pub async fn set_options(
    state: web::Data<AppState>,
    body: ApiJson<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    state.options.apply(&body.0, &state.registry)?;
    Ok(HttpResponse::Ok().json(Value::Null))
}

/// Rescan the model folders. Answers null.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "null"), (status = 500, description = "Internal fault", body = ErrorBody)))]
#[post("/sdapi/v1/refresh-checkpoints")]
pub async fn refresh_checkpoints(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let registry = state.registry.clone();
    web::block(move || registry.refresh())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(Value::Null))
}

/// Rescan --embeddings-dir without a restart; jobs accepted afterwards use the new set. Answers null.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "null")))]
#[post("/sdapi/v1/refresh-embeddings")]
pub async fn refresh_embeddings(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(pipeline) = state.pipeline.clone() {
        web::block(move || -> Result<(), String> {
            let fresh = pipeline.contexts().embeddings().refresh().map_err(|e| e.to_string())?;
            pipeline.contexts().set_embeddings(fresh);
            Ok(())
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)?;
    }
    Ok(HttpResponse::Ok().json(Value::Null))
}

/// Rescan LoRA files (nothing to do yet). Answers null.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "null")))]
#[post("/sdapi/v1/refresh-loras")]
pub async fn refresh_loras() -> HttpResponse {
    HttpResponse::Ok().json(Value::Null)
}

/// Rescan VAE files (sdgate has no separate VAEs). Answers null.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "null")))]
#[post("/sdapi/v1/refresh-vae")]
pub async fn refresh_vae() -> HttpResponse {
    HttpResponse::Ok().json(Value::Null)
}
