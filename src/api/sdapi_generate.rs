//! POST /sdapi/v1/txt2img and /sdapi/v1/img2img: validate, queue, wait, answer as the WebUI does.
//! If the client disconnects first, the job is cancelled (the ticket's drop guard).

use actix_web::{HttpResponse, post, web};
use base64::Engine;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::requests::{Img2ImgRequest, Txt2ImgRequest};
use super::responses::GenerationResponse;
use super::validate::{self, Validated, ValidationContext};
use crate::jobs::{JobKind, JobMeta, JobOrigin, JobRecord, JobState};
use crate::pipeline::GenerationInfo;

impl AppState {
    pub fn validation_context(&self) -> ValidationContext<'_> {
        ValidationContext {
            registry: &self.registry,
            settings: self.options.effective(),
            preview_every: self.preview_every(),
            limits: &self.settings.limits,
        }
    }

    /// Validate a txt2img request (cheap: no images).
    pub fn validate_txt2img(&self, req: &Txt2ImgRequest) -> Result<Validated, ApiError> {
        self.check_accepting()?;
        validate::txt2img(req, &self.validation_context())
    }

    /// Validate an img2img request off the async workers (decoding images is CPU work).
    pub async fn validate_img2img(&self, req: Img2ImgRequest) -> Result<Validated, ApiError> {
        self.check_accepting()?;
        let state = self.clone();
        web::block(move || validate::img2img(&req, &state.validation_context()))
            .await
            .map_err(|e| ApiError::Internal(format!("validation task failed: {e}")))?
    }

    fn check_accepting(&self) -> Result<(), ApiError> {
        if self.is_draining() {
            return Err(ApiError::Submit(crate::runtime::backend::SubmitError::ShuttingDown));
        }
        Ok(())
    }
}

/// Queue a validated job and wait for it; the job is cancelled if this future is dropped.
async fn run_sync(state: &AppState, v: Validated, kind: JobKind, parameters: Value) -> Result<JobRecord, ApiError> {
    let meta = JobMeta {
        kind,
        origin: JobOrigin::Sdapi,
        model: v.model_title,
        image_count: v.job.image_count(),
        parameters,
    };
    let mut ticket = state.jobs.submit(v.job, meta)?.cancel_on_drop(state.jobs.clone());
    match state.settings.request_timeout {
        None => Ok(ticket.wait().await),
        Some(t) => match tokio::time::timeout(t, ticket.wait()).await {
            Ok(rec) => Ok(rec),
            Err(_) => {
                drop(ticket);
                Err(ApiError::Timeout(t.as_secs()))
            }
        },
    }
}

/// The WebUI's answer for a finished job: images done so far for an interrupted job, an error for a
/// failed one.
pub fn generation_response(
    rec: &JobRecord,
    parameters: Value,
    send_images: bool,
) -> Result<GenerationResponse, ApiError> {
    if rec.state == JobState::Failed {
        return Err(match &rec.error {
            Some(e) => ApiError::Pipeline(e.clone()),
            None => ApiError::Internal("the job failed without an error".into()),
        });
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let (images, info) = match &rec.output {
        Some(out) => (
            if send_images {
                out.images.iter().map(|i| b64.encode(&i.png)).collect()
            } else {
                vec![]
            },
            serde_json::to_string(&out.info),
        ),
        None => (vec![], serde_json::to_string(&GenerationInfo::default())),
    };
    Ok(GenerationResponse {
        images,
        parameters,
        info: info.map_err(|e| ApiError::Internal(format!("cannot serialise info: {e}")))?,
    })
}

fn respond(rec: &JobRecord, parameters: Value, send_images: bool) -> Result<HttpResponse, ApiError> {
    let body = generation_response(rec, parameters, send_images)?;
    let mut answer = HttpResponse::Ok();
    answer.insert_header(("x-job-id", rec.id.to_string()));
    if let Some(e) = &rec.save_error {
        // The WebUI's body has no place for it; the images are in the body all the same.
        let printable: String = e.chars().map(|c| if c.is_ascii_graphic() { c } else { ' ' }).collect();
        answer.insert_header(("x-save-error", printable));
    }
    Ok(answer.json(body))
}

/// Text to image (blocks until done; see /v1/jobs for the asynchronous form).
#[utoipa::path(
    tag = "sdapi",
    request_body = Txt2ImgRequest,
    responses(
        (status = 200, description = "Generated (an interrupted job returns the images done so far)", body = GenerationResponse,
            headers(("x-job-id" = String, description = "The job's id in /v1/jobs"),
                ("x-save-error" = String, description = "Only when the images could not be stored (disk full, ...); they are in the body all the same"))),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid request (every problem listed in `fields`)", body = ErrorBody),
        (status = 429, description = "Queue full; retry after Retry-After seconds", body = ErrorBody),
        (status = 503, description = "Draining, no model or no device, or the job does not fit the device (out_of_memory)", body = ErrorBody),
    )
)]
#[post("/sdapi/v1/txt2img")]
pub async fn txt2img(state: web::Data<AppState>, body: ApiJson<Txt2ImgRequest>) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let v = state.validate_txt2img(&req)?;
    let parameters = req.echo();
    let rec = run_sync(&state, v, JobKind::Txt2img, parameters.clone()).await?;
    respond(&rec, parameters, req.common.send_images.unwrap_or(true))
}

/// Image to image and inpainting (blocks until done).
#[utoipa::path(
    tag = "sdapi",
    request_body = Img2ImgRequest,
    responses(
        (status = 200, description = "Generated", body = GenerationResponse,
            headers(("x-job-id" = String, description = "The job's id in /v1/jobs"),
                ("x-save-error" = String, description = "Only when the images could not be stored (disk full, ...); they are in the body all the same"))),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid request or image", body = ErrorBody),
        (status = 429, description = "Queue full; retry after Retry-After seconds", body = ErrorBody),
        (status = 503, description = "Draining, no model or no device, or the job does not fit the device (out_of_memory)", body = ErrorBody),
    )
)]
#[post("/sdapi/v1/img2img")]
pub async fn img2img(state: web::Data<AppState>, body: ApiJson<Img2ImgRequest>) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let parameters = req.echo();
    let send_images = req.common.send_images.unwrap_or(true);
    let v = state.validate_img2img(req).await?;
    let rec = run_sync(&state, v, JobKind::Img2img, parameters.clone()).await?;
    respond(&rec, parameters, send_images)
}
