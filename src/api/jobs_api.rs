//! The native job API: submit and return at once, poll or stream, cancel, fetch images by job id.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::requests::{Img2ImgRequest, Txt2ImgRequest};
use crate::jobs::{JobId, JobKind, JobMeta, JobOrigin, JobProgress, JobQuery, JobRecord, JobState};

/// A job to run: a WebUI txt2img or img2img body plus `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[schema(example = json!({"type": "txt2img", "prompt": "a cat", "steps": 20, "width": 512, "height": 512}))]
pub enum JobRequest {
    Txt2img(Txt2ImgRequest),
    Img2img(Img2ImgRequest),
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobLinks {
    /// This job (GET; DELETE cancels).
    #[serde(rename = "self")]
    pub self_: String,
    /// Server-sent events: progress, preview, done, failed.
    pub events: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobImage {
    pub index: usize,
    /// GET this for the PNG (with the infotext in its "parameters" chunk).
    pub url: String,
    pub width: usize,
    pub height: usize,
    pub seed: u64,
    pub subseed: u64,
    pub infotext: String,
}

/// A job as the native API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: JobKind,
    pub origin: JobOrigin,
    pub state: JobState,
    /// RFC 3339 times.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The model title the job runs on.
    pub model: String,
    /// Images the job will produce.
    pub image_count: usize,
    pub progress: JobProgress,
    /// The latest preview PNG while running (null when none).
    pub preview_url: Option<String>,
    /// The images, once the job has ended (an interrupted job has those finished before).
    pub images: Vec<JobImage>,
    /// The WebUI's `info` as an object (not a string), once ended.
    #[schema(value_type = Option<Object>)]
    pub info: Option<Value>,
    /// Why the job failed.
    pub error: Option<ErrorBody>,
    /// Set when the images could not be stored in the outputs folder (disk full, ...): they are
    /// still served from memory under `images` for as long as the job is kept.
    pub save_error: Option<String>,
    pub links: JobLinks,
}

impl JobView {
    pub fn from_record(r: &JobRecord) -> Self {
        let id = r.id.to_string();
        let images = r
            .output
            .as_ref()
            .map(|o| {
                o.images
                    .iter()
                    .enumerate()
                    .map(|(i, img)| JobImage {
                        index: i,
                        url: format!("/v1/images/{id}/{i}.png"),
                        width: img.width,
                        height: img.height,
                        seed: img.seed,
                        subseed: img.subseed,
                        infotext: img.infotext.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        JobView {
            kind: r.kind,
            origin: r.origin,
            state: r.state,
            created_at: r.created_at.to_rfc3339(),
            started_at: r.started_at.map(|t| t.to_rfc3339()),
            finished_at: r.finished_at.map(|t| t.to_rfc3339()),
            model: r.model.clone(),
            image_count: r.image_count,
            progress: r.progress.clone(),
            preview_url: (r.preview.is_some() && !r.state.is_final()).then(|| format!("/v1/jobs/{id}/preview.png")),
            images,
            info: r.output.as_ref().and_then(|o| serde_json::to_value(&o.info).ok()),
            error: r.error.as_ref().map(|e| ApiError::Pipeline(e.clone()).body()),
            save_error: r.save_error.clone(),
            links: JobLinks {
                self_: format!("/v1/jobs/{id}"),
                events: format!("/v1/jobs/{id}/events"),
            },
            id,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<JobView>,
    /// Jobs matching the filter (kept jobs only: finished ones are dropped after --job-ttl or past
    /// --job-retention).
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this state (queued, running, succeeded, failed, cancelled, interrupted).
    pub state: Option<String>,
    /// Skip this many (default 0).
    pub offset: Option<usize>,
    /// At most this many, 1..100 (default 20).
    pub limit: Option<usize>,
}

pub fn parse_id(s: &str) -> Result<JobId, ApiError> {
    s.parse::<JobId>()
        .map_err(|_| ApiError::NotFound(format!("no job {s}")))
}

fn find(state: &AppState, id: &str) -> Result<JobRecord, ApiError> {
    let id = parse_id(id)?;
    state
        .jobs
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

/// Submit a job; answers 202 at once with the job's id and links.
#[utoipa::path(tag = "jobs", request_body = JobRequest, responses(
    (status = 202, description = "Accepted (queued)", body = JobView, headers(("location" = String))),
    (status = 413, description = "Body too large", body = ErrorBody),
    (status = 422, description = "Invalid request", body = ErrorBody),
    (status = 429, description = "Queue full; retry after Retry-After seconds", body = ErrorBody),
    (status = 503, description = "Draining, no model or no device, or the job does not fit the device (out_of_memory)", body = ErrorBody),
))]
#[post("/v1/jobs")]
pub async fn create_job(state: web::Data<AppState>, body: ApiJson<JobRequest>) -> Result<HttpResponse, ApiError> {
    let (v, kind, parameters) = match body.0 {
        JobRequest::Txt2img(req) => (state.validate_txt2img(&req)?, JobKind::Txt2img, req.echo()),
        JobRequest::Img2img(req) => {
            let parameters = req.echo();
            (state.validate_img2img(req).await?, JobKind::Img2img, parameters)
        }
    };
    let meta = JobMeta {
        kind,
        origin: JobOrigin::Native,
        model: v.model_title,
        image_count: v.job.image_count(),
        parameters,
    };
    let ticket = state.jobs.submit(v.job, meta)?;
    let rec = state
        .jobs
        .get(ticket.id)
        .ok_or_else(|| ApiError::Internal("a submitted job vanished".into()))?;
    let view = JobView::from_record(&rec);
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, view.links.self_.clone()))
        .json(view))
}

/// The jobs kept, newest first.
#[utoipa::path(tag = "jobs", params(ListQuery), responses((status = 200, description = "OK", body = JobList), (status = 422, description = "Invalid request", body = ErrorBody)))]
#[get("/v1/jobs")]
pub async fn list_jobs(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let job_state = match query.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<JobState>().map_err(|e| ApiError::validation("state", e))?),
    };
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be from 1 to 100 (got {limit})"),
        ));
    }
    let offset = query.offset.unwrap_or(0);
    let page = state.jobs.list(&JobQuery {
        state: job_state,
        offset,
        limit,
    });
    Ok(HttpResponse::Ok().json(JobList {
        jobs: page.jobs.iter().map(JobView::from_record).collect(),
        total: page.total,
        offset,
        limit,
    }))
}

/// One job: state, progress, ETA, preview, images, info.
#[utoipa::path(tag = "jobs", params(("id" = String, Path, description = "Job id")), responses(
    (status = 200, description = "OK", body = JobView), (status = 404, description = "No such job or image", body = ErrorBody)))]
#[get("/v1/jobs/{id}")]
pub async fn get_job(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(JobView::from_record(&find(&state, &id)?)))
}

/// Cancel: a queued job is removed (`cancelled`); a running one is interrupted (`interrupted`, with
/// the images finished so far). An ended job is returned unchanged.
#[utoipa::path(tag = "jobs", params(("id" = String, Path, description = "Job id")), responses(
    (status = 200, description = "OK", body = JobView), (status = 404, description = "No such job or image", body = ErrorBody)))]
#[delete("/v1/jobs/{id}")]
pub async fn cancel_job(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let rec = state.jobs.cancel(id)?;
    Ok(HttpResponse::Ok().json(JobView::from_record(&rec)))
}

/// The latest preview of a running job.
#[utoipa::path(tag = "jobs", params(("id" = String, Path, description = "Job id")), responses(
    (status = 200, description = "OK", content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such job or image", body = ErrorBody)))]
#[get("/v1/jobs/{id}/preview.png")]
pub async fn job_preview(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let rec = find(&state, &id)?;
    let png = rec
        .preview
        .ok_or_else(|| ApiError::NotFound("this job has no preview".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(png.as_ref().clone()))
}

/// A generated image, from the job store by job id and index (never by a path).
#[utoipa::path(tag = "jobs", params(
    ("id" = String, Path, description = "Job id"),
    ("file" = String, Path, description = "`<index>.png`, e.g. `0.png`"),
), responses((status = 200, description = "OK", content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such job or image", body = ErrorBody)))]
#[get("/v1/images/{id}/{file}")]
pub async fn job_image(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, file) = path.into_inner();
    let rec = find(&state, &id)?;
    let index = file
        .strip_suffix(".png")
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| ApiError::NotFound(format!("no image {file:?}: use <index>.png")))?;
    let img = rec
        .output
        .as_ref()
        .and_then(|o| o.images.get(index))
        .ok_or_else(|| ApiError::NotFound(format!("job {id} has no image {index}")))?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600, immutable"))
        .body(img.png.clone()))
}
