//! GET /v1/jobs/{id}/events: server-sent events for one job.
//!
//! Events: `progress` (`{id, state, progress}`) on every change, `preview` (`{id, image}` base64 PNG)
//! when a new preview exists, then `done` (the final JobView: succeeded, interrupted or cancelled) or
//! `failed` (the JobView with its error), after which the stream ends. A comment line every 15 s
//! keeps proxies from closing an idle stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use base64::Engine;
use serde_json::json;
use tokio::sync::watch;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::jobs_api::{JobView, parse_id};
use crate::jobs::{JobId, JobManager, JobRecord, JobState};

const KEEPALIVE: Duration = Duration::from_secs(15);

struct Stream {
    jobs: Arc<JobManager>,
    id: JobId,
    rx: Option<watch::Receiver<JobRecord>>,
    first: Option<JobRecord>,
    last_preview: u64,
    last_version: Option<u64>,
    done: bool,
}

fn event(name: &str, data: &serde_json::Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// The events for one record (None when nothing changed).
fn events_for(s: &mut Stream, rec: &JobRecord) -> String {
    let mut out = String::new();
    if rec.preview_seq != s.last_preview
        && let Some(png) = &rec.preview
    {
        s.last_preview = rec.preview_seq;
        let image = base64::engine::general_purpose::STANDARD.encode(png.as_slice());
        out.push_str(&event("preview", &json!({"id": rec.id, "image": image})));
    }
    if s.last_version != Some(rec.version) {
        s.last_version = Some(rec.version);
        out.push_str(&event(
            "progress",
            &json!({"id": rec.id, "state": rec.state, "progress": rec.progress}),
        ));
    }
    if rec.state.is_final() {
        let view = serde_json::to_value(JobView::from_record(rec)).unwrap_or_default();
        let name = if rec.state == JobState::Failed {
            "failed"
        } else {
            "done"
        };
        out.push_str(&event(name, &view));
        s.done = true;
    }
    out
}

async fn next(mut s: Stream) -> Option<(Result<Bytes, Infallible>, Stream)> {
    loop {
        if s.done {
            return None;
        }
        let rec = if let Some(first) = s.first.take() {
            first
        } else if let Some(rx) = s.rx.as_mut() {
            match tokio::time::timeout(KEEPALIVE, rx.changed()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s)),
                Ok(Ok(())) => rx.borrow_and_update().clone(),
                Ok(Err(_)) => {
                    s.rx = None;
                    continue;
                }
            }
        } else {
            // No live channel: the job has ended (or was dropped from the store).
            match s.jobs.get(s.id) {
                Some(rec) if rec.state.is_final() => rec,
                _ => {
                    s.done = true;
                    return Some((
                        Ok(Bytes::from(event(
                            "failed",
                            &json!({"id": s.id, "error": "the job is gone"}),
                        ))),
                        s,
                    ));
                }
            }
        };
        let chunk = events_for(&mut s, &rec);
        if !chunk.is_empty() {
            return Some((Ok(Bytes::from(chunk)), s));
        }
    }
}

/// Server-sent events of one job: progress, preview, then done or failed.
#[utoipa::path(tag = "jobs", params(("id" = String, Path, description = "Job id")), responses(
    (status = 200, description = "An event stream (text/event-stream)", content_type = "text/event-stream", body = String),
    (status = 404, description = "No such job or image", body = ErrorBody)))]
#[get("/v1/jobs/{id}/events")]
pub async fn job_events(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let rx = state.jobs.subscribe(id);
    let rec = state
        .jobs
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))?;
    let stream = Stream {
        jobs: state.jobs.clone(),
        id,
        rx,
        first: Some(rec),
        last_preview: 0,
        last_version: None,
        done: false,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(futures_util::stream::unfold(stream, next)))
}
