//! The device side as the job layer sees it: offer a job, get its result later.
//! The real implementation is the device pool (one worker thread per GPU); tests may use fakes.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::pipeline::{GenerationJob, GenerationOutput, JobControl, PipelineError};

/// Why a job was not accepted.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SubmitError {
    #[error("the queue is full ({capacity} jobs waiting); retry in about {retry_after_secs} s")]
    QueueFull { capacity: usize, retry_after_secs: u64 },
    #[error("the server is shutting down and accepts no new jobs")]
    ShuttingDown,
    #[error("no device worker is running")]
    NoWorker,
}

/// The answer to a submitted job.
pub type JobResult = Result<GenerationOutput, PipelineError>;

/// What a device worker is doing, for /health, /metrics and the memory route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceStatus {
    pub device: String,
    pub provider: String,
    pub model: Option<String>,
    pub active_jobs: usize,
    pub max_batch: usize,
    pub ready: bool,
    pub last_error: Option<String>,
}

pub trait Backend: Send + Sync + 'static {
    /// Offer a job. Fails at once when the queue is full (admission control) or the pool is
    /// draining; otherwise the receiver yields the job's result when it is done.
    fn submit(&self, job: GenerationJob, control: Arc<JobControl>)
    -> Result<oneshot::Receiver<JobResult>, SubmitError>;
    /// Jobs accepted but not yet started.
    fn queue_depth(&self) -> usize;
    fn queue_capacity(&self) -> usize;
    /// Every worker has loaded its model and finished its warm-up generation.
    fn is_ready(&self) -> bool;
    fn devices(&self) -> Vec<DeviceStatus>;
    /// Stop accepting jobs; queued and running ones still finish.
    fn drain(&self);
    /// Jobs queued or running.
    fn in_flight(&self) -> usize;
    /// Stop for good: refuse new jobs, let the device workers finish what they hold, join them.
    fn shutdown(&self) {
        self.drain();
    }
}
