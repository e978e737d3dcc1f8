//! The job layer: job records and their store, the manager that submits validated jobs to the
//! backend and follows them, per-job events, and the metrics.

pub mod manager;
pub mod metrics;
pub mod record;
pub mod store;

pub use manager::{ActiveJob, DEFAULT_POLL_INTERVAL, JobManager, JobTicket, OutputSink};
pub use metrics::Metrics;
pub use record::{JobId, JobKind, JobMeta, JobOrigin, JobProgress, JobRecord, JobState};
pub use store::{JobPage, JobQuery, JobStore, MemoryJobStore, Retention};

use crate::runtime::backend::SubmitError;

/// Errors of the job layer.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error("no job {0}")]
    NotFound(JobId),
    #[error("the job layer was called outside a Tokio runtime")]
    NoRuntime,
}
