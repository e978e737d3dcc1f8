//! The device pool: a bounded FIFO queue shared by one worker thread per device.
//! A worker with room takes the next job, so an idle device is always the first to get one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::backend::{Backend, DeviceStatus, JobResult, SubmitError};
use super::task::Task;
use super::worker::{Observer, Worker, WorkerConfig};
use crate::pipeline::{GenerationJob, JobControl};

/// The answer channel of one job; counts the job as in flight until the answer is sent or dropped.
pub struct Reply {
    tx: Option<oneshot::Sender<JobResult>>,
    in_flight: Arc<AtomicUsize>,
}

impl Reply {
    pub fn send(mut self, result: JobResult) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(result);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A job waiting in the queue.
pub struct Queued {
    pub job: GenerationJob,
    pub control: Arc<JobControl>,
    pub reply: Reply,
}

/// Turns an accepted job into a task a worker can drive (the pipeline provides it).
pub type TaskFactory = Arc<dyn Fn(GenerationJob, Arc<JobControl>, Reply) -> Box<dyn Task> + Send + Sync>;

/// What each worker runs before it takes jobs (load the default model, one small generation).
pub type Warmup = Arc<dyn Fn(&mut WorkerWarmup<'_>) -> Result<(), String> + Send + Sync>;

pub struct PoolConfig {
    pub workers: Vec<WorkerConfig>,
    /// Jobs that may wait (admission control: past this, submit fails with QueueFull).
    pub queue_capacity: usize,
}

struct WorkerHandle {
    status: Arc<Mutex<DeviceStatus>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

pub struct DevicePool {
    tx: Mutex<Option<Sender<Queued>>>,
    rx: Receiver<Queued>,
    capacity: usize,
    draining: AtomicBool,
    in_flight: Arc<AtomicUsize>,
    workers: Vec<WorkerHandle>,
    /// Mean seconds per job (for Retry-After), updated by the owner of results.
    mean_job_secs: Mutex<f64>,
}

impl DevicePool {
    /// Start one thread per configured device. `warmup` runs on each worker before it takes jobs
    /// (load the default model, one small generation) and decides its readiness.
    pub fn start(cfg: PoolConfig, factory: TaskFactory, observer: Option<Observer>, warmup: Warmup) -> Arc<Self> {
        let (tx, rx) = bounded::<Queued>(cfg.queue_capacity.max(1));
        let mut workers = Vec::new();
        for wc in cfg.workers {
            let status = Arc::new(Mutex::new(DeviceStatus {
                device: wc.device.clone(),
                provider: wc.provider.kind.to_string(),
                model: None,
                active_jobs: 0,
                max_batch: wc.max_jobs,
                ready: false,
                last_error: None,
            }));
            let mut worker = Worker::new(
                wc.clone(),
                rx.clone(),
                factory.clone(),
                status.clone(),
                observer.clone(),
            );
            let warm = warmup.clone();
            let st = status.clone();
            let thread = std::thread::Builder::new()
                .name(format!("sdgate-{}", wc.device))
                .spawn(move || {
                    let result = warm(&mut WorkerWarmup { worker: &mut worker });
                    match result {
                        Ok(()) => st.lock().ready = true,
                        Err(e) => {
                            tracing::error!(device = %wc.device, "warm-up failed: {e}");
                            st.lock().last_error = Some(e);
                        }
                    }
                    worker.run();
                })
                .expect("spawning a device worker thread");
            workers.push(WorkerHandle {
                status,
                thread: Mutex::new(Some(thread)),
            });
        }
        Arc::new(Self {
            tx: Mutex::new(Some(tx)),
            rx,
            capacity: cfg.queue_capacity.max(1),
            draining: AtomicBool::new(false),
            in_flight: Arc::new(AtomicUsize::new(0)),
            workers,
            mean_job_secs: Mutex::new(5.0),
        })
    }

    /// Record a finished job's duration (exponential moving average for Retry-After).
    pub fn observe_job_secs(&self, secs: f64) {
        let mut m = self.mean_job_secs.lock();
        *m = 0.8 * *m + 0.2 * secs;
    }
}

/// What a warm-up function may do on its worker's thread.
pub struct WorkerWarmup<'a> {
    pub(crate) worker: &'a mut Worker,
}

impl WorkerWarmup<'_> {
    /// Load a model and run one job to completion on this worker.
    pub fn run_job(&mut self, job: GenerationJob) -> Result<JobResult, String> {
        let (tx, mut rx) = oneshot::channel();
        let in_flight = Arc::new(AtomicUsize::new(1));
        let reply = Reply {
            tx: Some(tx),
            in_flight,
        };
        let control = Arc::new(JobControl::new());
        let model = job.model.clone();
        self.worker.ensure_model(&model).map_err(|e| e.to_string())?;
        let task = (self.worker.factory)(job, control, reply);
        self.worker.push(task);
        while self.worker.has_tasks() {
            self.worker.iterate();
        }
        rx.try_recv().map_err(|e| format!("warm-up job gave no result: {e}"))
    }
}

impl Backend for DevicePool {
    fn submit(
        &self,
        job: GenerationJob,
        control: Arc<JobControl>,
    ) -> Result<oneshot::Receiver<JobResult>, SubmitError> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(SubmitError::ShuttingDown);
        }
        let guard = self.tx.lock();
        let Some(tx) = guard.as_ref() else {
            return Err(SubmitError::ShuttingDown);
        };
        let (otx, orx) = oneshot::channel();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let reply = Reply {
            tx: Some(otx),
            in_flight: self.in_flight.clone(),
        };
        match tx.try_send(Queued { job, control, reply }) {
            Ok(()) => Ok(orx),
            Err(TrySendError::Full(_)) => {
                let per_worker = self.capacity as f64 / self.workers.len().max(1) as f64;
                let secs = (per_worker * *self.mean_job_secs.lock()).ceil().clamp(1.0, 3600.0) as u64;
                Err(SubmitError::QueueFull {
                    capacity: self.capacity,
                    retry_after_secs: secs,
                })
            }
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::NoWorker),
        }
    }

    fn queue_depth(&self) -> usize {
        self.rx.len()
    }

    fn queue_capacity(&self) -> usize {
        self.capacity
    }

    fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::SeqCst) && self.workers.iter().all(|w| w.status.lock().ready)
    }

    fn devices(&self) -> Vec<DeviceStatus> {
        self.workers.iter().map(|w| w.status.lock().clone()).collect()
    }

    fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Close the queue and join the workers once they have finished what they hold (a warm-up
    /// included): no thread may still be inside ONNX Runtime when the process exits.
    fn shutdown(&self) {
        self.drain();
        self.tx.lock().take();
        for w in &self.workers {
            if let Some(t) = w.thread.lock().take() {
                let _ = t.join();
            }
        }
    }
}
