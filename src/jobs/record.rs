//! A job as the job layer keeps it: identity, state machine, progress, result.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::pipeline::{GenerationOutput, PipelineError, Progress};

pub type JobId = uuid::Uuid;

/// Where a job is in its life. `queued → running → succeeded | failed | interrupted`, and
/// `queued → cancelled` (removed before it started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl JobState {
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }
}

impl std::str::FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            "interrupted" => JobState::Interrupted,
            other => return Err(format!("unknown job state {other:?}")),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Txt2img,
    Img2img,
}

/// Which API accepted the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobOrigin {
    /// A synchronous /sdapi/v1 request (cancelled when its client goes away).
    Sdapi,
    /// The native job API (/v1/jobs).
    Native,
}

/// Progress as the API reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobProgress {
    /// Fraction done over the whole job, 0..1.
    pub fraction: f32,
    /// Sampling step of the current pass and its step count.
    pub sampling_step: usize,
    pub sampling_steps: usize,
    /// Which batch of n_iter runs (0-based), of how many.
    pub job_no: usize,
    pub job_count: usize,
    pub steps_done: usize,
    pub steps_total: usize,
    /// Estimated seconds left (None until the first step is done).
    pub eta_seconds: Option<f64>,
}

impl JobProgress {
    /// From the worker's snapshot; `elapsed` is the time since the worker started the job.
    pub fn from_control(p: &Progress, elapsed: Option<f64>) -> Self {
        let fraction = p.fraction();
        let eta_seconds = match elapsed {
            Some(t) if fraction > 0.0 => Some((t / f64::from(fraction) - t).max(0.0)),
            _ => None,
        };
        JobProgress {
            fraction,
            sampling_step: p.sampling_step,
            sampling_steps: p.sampling_steps,
            job_no: p.job_no,
            job_count: p.job_count,
            steps_done: p.steps_done,
            steps_total: p.steps_total,
            eta_seconds,
        }
    }
}

/// Everything the job layer knows about a job. Cheap to clone (large parts are shared).
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: JobKind,
    pub origin: JobOrigin,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The model title the job was accepted with.
    pub model: String,
    /// Images the job will produce (batch_size × n_iter).
    pub image_count: usize,
    pub progress: JobProgress,
    /// The latest preview PNG and a counter that changes with it.
    pub preview: Option<Arc<Vec<u8>>>,
    pub preview_seq: u64,
    /// The request as the client sent it, with defaults filled (the WebUI's `parameters`).
    pub parameters: Arc<serde_json::Value>,
    pub output: Option<Arc<GenerationOutput>>,
    pub error: Option<Arc<PipelineError>>,
    /// Why the images could not be stored (disk full, ...): the job still has them in memory.
    pub save_error: Option<String>,
    /// Changes on every update (for event streams).
    pub version: u64,
}

impl JobRecord {
    pub fn new(id: JobId, meta: JobMeta) -> Self {
        JobRecord {
            id,
            kind: meta.kind,
            origin: meta.origin,
            state: JobState::Queued,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            model: meta.model,
            image_count: meta.image_count,
            progress: JobProgress::default(),
            preview: None,
            preview_seq: 0,
            parameters: Arc::new(meta.parameters),
            output: None,
            error: None,
            save_error: None,
            version: 0,
        }
    }
}

/// What the API tells the job layer about a job it submits.
#[derive(Debug, Clone)]
pub struct JobMeta {
    pub kind: JobKind,
    pub origin: JobOrigin,
    pub model: String,
    pub image_count: usize,
    pub parameters: serde_json::Value,
}
