//! Progress and cancellation shared between a job's owner (the API) and the device worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

/// A snapshot of where a job is.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Sampling step within the current image batch (the WebUI's sampling_step).
    pub sampling_step: usize,
    /// Steps of the current pass (the WebUI's sampling_steps).
    pub sampling_steps: usize,
    /// Which batch of n_iter is running (0-based) and how many there are (the WebUI's job_no/job_count).
    pub job_no: usize,
    pub job_count: usize,
    /// Steps done and total over the whole job (all iterations and passes): progress = done / total.
    pub steps_done: usize,
    pub steps_total: usize,
    /// A small PNG preview of the latest latents.
    pub preview_png: Option<Vec<u8>>,
    /// When the device worker started the job.
    pub started: Option<Instant>,
}

impl Progress {
    /// Fraction done in [0, 1].
    pub fn fraction(&self) -> f32 {
        if self.steps_total == 0 {
            0.0
        } else {
            (self.steps_done as f32 / self.steps_total as f32).min(1.0)
        }
    }
}

/// Shared by the API (reads progress, requests interrupt/skip) and the worker (writes progress,
/// polls the flags between steps).
#[derive(Debug, Default)]
pub struct JobControl {
    interrupted: AtomicBool,
    skipped: AtomicBool,
    progress: Mutex<Progress>,
}

impl JobControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop the job after the current step; images finished so far are kept (the WebUI's interrupt).
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Stop sampling the current batch and go on with the next iteration (the WebUI's skip).
    pub fn skip(&self) {
        self.skipped.store(true, Ordering::SeqCst);
    }

    /// Read and clear the skip flag.
    pub fn take_skip(&self) -> bool {
        self.skipped.swap(false, Ordering::SeqCst)
    }

    pub fn progress(&self) -> Progress {
        self.progress.lock().clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock());
    }
}
