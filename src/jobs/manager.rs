//! The job manager: admission through the backend, one supervising task per job that mirrors the
//! worker's progress into the store and the job's event channel, cancellation, and the finished record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{oneshot, watch};

use super::JobError;
use super::metrics::Metrics;
use super::record::{JobId, JobMeta, JobProgress, JobRecord, JobState};
use super::store::{JobPage, JobQuery, JobStore};
use crate::pipeline::{GenerationJob, GenerationOutput, JobControl, PipelineError};
use crate::runtime::backend::{Backend, JobResult, SubmitError};

/// How often a job's progress is copied from its control into the store and event channel.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a job's end waits for its images to be saved before it is reported anyway.
const SAVE_WAIT: Duration = Duration::from_secs(60);

/// Where a finished job's images go (the gallery's output store). Called on the async runtime, so
/// `save` must not block: it returns a future, and the job is reported ended once it resolves (so a
/// client told "done" finds the images saved). A failed save (disk full, folder gone) resolves to
/// its message: the job keeps its images in memory and reports `save_error`.
pub trait OutputSink: Send + Sync {
    fn save(&self, job: &JobRecord, output: &Arc<GenerationOutput>) -> BoxFuture<'static, Result<(), String>>;
}

struct LiveJob {
    id: JobId,
    control: Arc<JobControl>,
    events: Arc<watch::Sender<JobRecord>>,
}

/// The job currently reported by /sdapi/v1/progress.
#[derive(Debug, Clone)]
pub struct ActiveJob {
    pub record: JobRecord,
    pub control: Arc<JobControl>,
    /// When the worker started it (None while queued).
    pub started: Option<Instant>,
}

pub struct JobManager {
    backend: Arc<dyn Backend>,
    store: Arc<dyn JobStore>,
    metrics: Arc<Metrics>,
    live: Mutex<Vec<LiveJob>>,
    accepting: AtomicBool,
    poll: Duration,
    sink: RwLock<Option<Arc<dyn OutputSink>>>,
}

impl JobManager {
    pub fn new(
        backend: Arc<dyn Backend>,
        store: Arc<dyn JobStore>,
        metrics: Arc<Metrics>,
        poll: Duration,
    ) -> Arc<Self> {
        Arc::new(JobManager {
            backend,
            store,
            metrics,
            live: Mutex::new(Vec::new()),
            accepting: AtomicBool::new(true),
            poll: poll.max(Duration::from_millis(5)),
            sink: RwLock::new(None),
        })
    }

    /// Save the images of every job that ends with some from now on.
    pub fn set_output_sink(&self, sink: Arc<dyn OutputSink>) {
        *self.sink.write() = Some(sink);
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Offer a validated job to the backend. Fails at once when the queue is full or the server is
    /// draining; on success the job is `queued` and a supervising task follows it. Must be called
    /// inside a Tokio runtime.
    pub fn submit(self: &Arc<Self>, job: GenerationJob, meta: JobMeta) -> Result<JobTicket, JobError> {
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(SubmitError::ShuttingDown.into());
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JobError::NoRuntime)?;
        let control = Arc::new(JobControl::new());
        let result_rx = self.backend.submit(job, control.clone())?;
        let id = uuid::Uuid::new_v4();
        let record = JobRecord::new(id, meta);
        let (tx, rx) = watch::channel(record.clone());
        let tx = Arc::new(tx);
        self.store.insert(record);
        self.live.lock().push(LiveJob {
            id,
            control: control.clone(),
            events: tx.clone(),
        });
        runtime.spawn(self.clone().supervise(id, result_rx, control.clone(), tx));
        Ok(JobTicket {
            id,
            control,
            events: rx,
            cancel_on_drop: None,
        })
    }

    pub fn get(&self, id: JobId) -> Option<JobRecord> {
        self.store.get(id)
    }

    pub fn list(&self, query: &JobQuery) -> JobPage {
        self.store.list(query)
    }

    /// Updates of a job that is still queued or running (None once it has ended: read the store).
    pub fn subscribe(&self, id: JobId) -> Option<watch::Receiver<JobRecord>> {
        self.live
            .lock()
            .iter()
            .find(|j| j.id == id)
            .map(|j| j.events.subscribe())
    }

    /// Cancel a job: a queued job becomes `cancelled` at once (the worker drops it when it reaches it);
    /// a running one is interrupted and ends as `interrupted` with the images done so far.
    pub fn cancel(&self, id: JobId) -> Result<JobRecord, JobError> {
        let live = self
            .live
            .lock()
            .iter()
            .find(|j| j.id == id)
            .map(|j| (j.control.clone(), j.events.clone()));
        let Some((control, events)) = live else {
            return self.store.get(id).ok_or(JobError::NotFound(id));
        };
        control.interrupt();
        let started = control.progress().started.is_some();
        let now = Utc::now();
        let rec = self
            .store
            .update(id, &mut |r| {
                if r.state == JobState::Queued && !started {
                    r.state = JobState::Cancelled;
                    r.finished_at = Some(now);
                }
            })
            .ok_or(JobError::NotFound(id))?;
        if rec.state == JobState::Cancelled {
            events.send_replace(rec.clone());
        }
        Ok(rec)
    }

    /// The oldest running job, else the oldest queued one (cancelled ones excluded).
    pub fn current(&self) -> Option<ActiveJob> {
        let live: Vec<(JobId, Arc<JobControl>)> = self.live.lock().iter().map(|j| (j.id, j.control.clone())).collect();
        let mut queued = None;
        for (id, control) in live {
            let Some(record) = self.store.get(id) else { continue };
            if record.state.is_final() {
                continue;
            }
            let started = control.progress().started;
            if started.is_some() {
                return Some(ActiveJob {
                    record,
                    control,
                    started,
                });
            }
            if queued.is_none() {
                queued = Some(ActiveJob {
                    record,
                    control,
                    started: None,
                });
            }
        }
        queued
    }

    /// Jobs queued or running that this manager follows.
    pub fn live_count(&self) -> usize {
        self.live.lock().len()
    }

    /// Refuse new jobs from now on (graceful shutdown).
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    async fn supervise(
        self: Arc<Self>,
        id: JobId,
        mut result_rx: oneshot::Receiver<JobResult>,
        control: Arc<JobControl>,
        events: Arc<watch::Sender<JobRecord>>,
    ) {
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_preview: Option<u64> = None;
        let result = loop {
            tokio::select! {
                r = &mut result_rx => break r,
                _ = tick.tick() => self.refresh(id, &control, &events, &mut last_preview),
            }
        };
        let result = result.map(|r| r.map(Arc::new));
        let sink = self.sink.read().clone();
        let mut save_error = None;
        if let (Some(sink), Ok(Ok(out))) = (sink, &result)
            && !out.images.is_empty()
            && let Some(rec) = self.store.get(id)
        {
            save_error = match tokio::time::timeout(SAVE_WAIT, sink.save(&rec, out)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => {
                    tracing::error!(job = %id, "saving the images took over {} s: reporting the job ended", SAVE_WAIT.as_secs());
                    Some(format!("saving the images took over {} s", SAVE_WAIT.as_secs()))
                }
            };
            if save_error.is_some() {
                self.metrics.error("save_failed");
            }
        }
        if let Some(e) = &save_error {
            self.store.update(id, &mut |r| r.save_error = Some(e.clone()));
        }
        self.finish(id, &control, result, &events);
    }

    fn refresh(&self, id: JobId, control: &JobControl, events: &watch::Sender<JobRecord>, last: &mut Option<u64>) {
        let p = control.progress();
        let elapsed = p.started.map(|s| s.elapsed());
        let progress = JobProgress::from_control(&p, elapsed.map(|d| d.as_secs_f64()));
        let preview_hash = p.preview_png.as_deref().map(hash_bytes);
        let preview_changed = preview_hash.is_some() && preview_hash != *last;
        let Some(current) = self.store.get(id) else { return };
        let starts = current.state == JobState::Queued && p.started.is_some();
        if !starts && !preview_changed && current.progress == progress {
            return;
        }
        if current.state.is_final() {
            return;
        }
        *last = preview_hash.or(*last);
        let preview = if preview_changed {
            p.preview_png.map(Arc::new)
        } else {
            None
        };
        let rec = self.store.update(id, &mut |r| {
            if starts {
                r.state = JobState::Running;
                r.started_at = Some(started_at(elapsed));
            }
            r.progress = progress.clone();
            if let Some(png) = &preview {
                r.preview = Some(png.clone());
                r.preview_seq += 1;
            }
        });
        if let Some(rec) = rec {
            events.send_replace(rec);
        }
    }

    fn finish(
        &self,
        id: JobId,
        control: &JobControl,
        result: Result<Result<Arc<GenerationOutput>, PipelineError>, oneshot::error::RecvError>,
        events: &watch::Sender<JobRecord>,
    ) {
        let (output, error) = match result {
            Ok(Ok(out)) => (Some(out), None),
            Ok(Err(e)) => (None, Some(Arc::new(e))),
            Err(_) => (None, Some(Arc::new(PipelineError::WorkerGone))),
        };
        let p = control.progress();
        let elapsed = p.started.map(|s| s.elapsed());
        let interrupted = control.is_interrupted();
        let now = Utc::now();
        let rec = self.store.update(id, &mut |r| {
            if r.started_at.is_none() && p.started.is_some() {
                r.started_at = Some(started_at(elapsed));
            }
            r.progress = JobProgress::from_control(&p, elapsed.map(|d| d.as_secs_f64()));
            r.progress.eta_seconds = None;
            r.state = if r.state == JobState::Cancelled {
                JobState::Cancelled
            } else if let Some(out) = &output {
                if out.interrupted {
                    JobState::Interrupted
                } else {
                    JobState::Succeeded
                }
            } else if interrupted {
                JobState::Interrupted
            } else {
                JobState::Failed
            };
            if r.state == JobState::Succeeded {
                r.progress.fraction = 1.0;
            }
            if r.state != JobState::Cancelled || r.finished_at.is_none() {
                r.finished_at = Some(now);
            }
            r.output = output.clone();
            r.error = error.clone();
        });
        self.live.lock().retain(|j| j.id != id);
        if let Some(rec) = rec {
            let secs = (now - rec.created_at).to_std().unwrap_or_default().as_secs_f64();
            self.metrics.observe_job(rec.state.as_str(), secs);
            if let Some(out) = &rec.output {
                self.metrics.add_images(out.images.len());
            }
            if rec.state == JobState::Failed {
                self.metrics.error("job_failed");
            }
            events.send_replace(rec);
        }
        self.store.prune();
    }
}

fn started_at(elapsed: Option<Duration>) -> chrono::DateTime<Utc> {
    let now = Utc::now();
    elapsed
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map_or(now, |d| now - d)
}

fn hash_bytes(b: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// A submitted job as its submitter holds it.
pub struct JobTicket {
    pub id: JobId,
    pub control: Arc<JobControl>,
    events: watch::Receiver<JobRecord>,
    cancel_on_drop: Option<Arc<JobManager>>,
}

impl JobTicket {
    /// Cancel the job if this ticket is dropped before the job ends (a synchronous request whose
    /// client went away: actix drops the handler's future).
    pub fn cancel_on_drop(mut self, manager: Arc<JobManager>) -> Self {
        self.cancel_on_drop = Some(manager);
        self
    }

    /// Wait until the job has ended; the final record.
    pub async fn wait(&mut self) -> JobRecord {
        loop {
            {
                let rec = self.events.borrow_and_update();
                if rec.state.is_final() {
                    let rec = rec.clone();
                    self.cancel_on_drop = None;
                    return rec;
                }
            }
            if self.events.changed().await.is_err() {
                let rec = self.events.borrow().clone();
                self.cancel_on_drop = None;
                return rec;
            }
        }
    }
}

impl Drop for JobTicket {
    fn drop(&mut self) {
        if let Some(manager) = self.cancel_on_drop.take() {
            tracing::info!(job = %self.id, "client went away: cancelling its job");
            let _ = manager.cancel(self.id);
        }
    }
}
