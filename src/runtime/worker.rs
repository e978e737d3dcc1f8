//! One OS thread per device: it owns the engine (the ONNX sessions) and drives the tasks it has
//! admitted, merging their UNet evaluations into batched calls (continuous batching).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use ndarray::{Array3, Array4, Axis, concatenate, s};
use parking_lot::Mutex;

use super::backend::DeviceStatus;
use super::pool::{Queued, TaskFactory};
use super::task::{Poll, Task, UnetRequest};
use super::{Engine, ProviderOptions};
use crate::models::ModelFolder;
use crate::pipeline::PipelineError;

/// Settings of one device worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// A label such as "cpu" or "cuda:0".
    pub device: String,
    pub provider: ProviderOptions,
    /// Jobs driven at once (1 = one job at a time, as the WebUI).
    pub max_jobs: usize,
    /// UNet rows per call (cond and uncond rows of all merged jobs).
    pub max_rows: usize,
}

/// Something the worker reports as it works (the metrics layer listens).
#[derive(Debug, Clone, Copy)]
pub enum WorkerEvent {
    /// One UNet call: rows, jobs merged, seconds.
    UnetCall { rows: usize, jobs: usize, secs: f64 },
}

pub type Observer = Arc<dyn Fn(WorkerEvent) + Send + Sync>;

pub(crate) struct Worker {
    pub cfg: WorkerConfig,
    pub queue: Receiver<Queued>,
    pub factory: TaskFactory,
    pub status: Arc<Mutex<DeviceStatus>>,
    pub observer: Option<Observer>,
    pub engine: Option<Engine>,
    tasks: Vec<Box<dyn Task>>,
    /// A job for another model, waiting until the running tasks finish.
    held: Option<Queued>,
}

impl Worker {
    pub fn new(
        cfg: WorkerConfig,
        queue: Receiver<Queued>,
        factory: TaskFactory,
        status: Arc<Mutex<DeviceStatus>>,
        observer: Option<Observer>,
    ) -> Self {
        Self {
            cfg,
            queue,
            factory,
            status,
            observer,
            engine: None,
            tasks: vec![],
            held: None,
        }
    }

    /// Load `folder` unless it is the engine's model already.
    pub fn ensure_model(&mut self, folder: &Arc<ModelFolder>) -> Result<(), PipelineError> {
        if self.engine.as_ref().is_some_and(|e| e.folder.root == folder.root) {
            return Ok(());
        }
        // Free the old sessions first: two full models may not fit on one GPU.
        self.engine = None;
        self.status.lock().model = None;
        let started = Instant::now();
        let engine = Engine::load((**folder).clone(), &self.cfg.provider)?;
        tracing::info!(
            device = %self.cfg.device,
            "loaded model {} on {} in {:.1} s",
            folder.manifest.name,
            engine.provider,
            started.elapsed().as_secs_f64()
        );
        let mut st = self.status.lock();
        st.model = Some(folder.manifest.name.clone());
        st.provider = engine.provider.to_string();
        drop(st);
        self.engine = Some(engine);
        Ok(())
    }

    pub(crate) fn push(&mut self, task: Box<dyn Task>) {
        self.tasks.push(task);
    }

    pub(crate) fn has_tasks(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Run until the queue is closed and every admitted task is done.
    pub fn run(mut self) {
        loop {
            if !self.admit() {
                break;
            }
            self.iterate();
            self.status.lock().active_jobs = self.tasks.len();
        }
        tracing::info!(device = %self.cfg.device, "device worker stopped");
    }

    /// Take jobs from the queue. Returns false when the queue is closed and nothing is left.
    fn admit(&mut self) -> bool {
        // A job for another model waits until the device is idle, then the model is switched.
        if self.tasks.is_empty()
            && let Some(q) = self.held.take()
        {
            self.start(q);
        }
        while self.held.is_none() && self.tasks.len() < self.cfg.max_jobs.max(1) {
            let next = if self.tasks.is_empty() {
                match self.queue.recv_timeout(Duration::from_millis(200)) {
                    Ok(q) => q,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return false,
                }
            } else {
                match self.queue.try_recv() {
                    Ok(q) => q,
                    Err(_) => break,
                }
            };
            let same_model = self
                .engine
                .as_ref()
                .is_some_and(|e| e.folder.root == next.job.model.root);
            if !same_model && !self.tasks.is_empty() {
                self.held = Some(next);
                break;
            }
            self.start(next);
        }
        true
    }

    fn start(&mut self, q: Queued) {
        let Queued { job, control, reply } = q;
        if control.is_interrupted() {
            let mut task = (self.factory)(job, control, reply);
            task.cancel();
            return;
        }
        let model = job.model.clone();
        let mut task = (self.factory)(job, control, reply);
        match self.ensure_model(&model) {
            Ok(()) => self.tasks.push(task),
            Err(e) => {
                self.status.lock().last_error = Some(e.to_string());
                task.fail(e);
            }
        }
    }

    /// One round: every task does its due work; UNet requests with equal shapes share calls.
    pub fn iterate(&mut self) {
        let Some(engine) = self.engine.as_mut() else {
            for mut t in self.tasks.drain(..) {
                t.fail(PipelineError::Invalid("no model is loaded".into()));
            }
            return;
        };
        // (task, index of the request within the task's list, request)
        let mut requests: Vec<((usize, usize), UnetRequest)> = Vec::new();
        let mut expected = vec![0usize; self.tasks.len()];
        let mut done = vec![false; self.tasks.len()];
        for (i, task) in self.tasks.iter_mut().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| task.poll(engine))) {
                Ok(Ok(Poll::Unet(rs))) => {
                    expected[i] = rs.len();
                    requests.extend(rs.into_iter().enumerate().map(|(k, r)| ((i, k), r)));
                }
                Ok(Ok(Poll::Finished)) => done[i] = true,
                Ok(Err(e)) => {
                    task.fail(e);
                    done[i] = true;
                }
                Err(panic) => {
                    task.fail(PipelineError::Internal(panic_message(&panic)));
                    done[i] = true;
                }
            }
        }
        let mut groups: BTreeMap<(usize, usize, usize, usize), Vec<Keyed>> = BTreeMap::new();
        for (id, r) in requests {
            groups.entry(r.batch_key()).or_default().push((id, r));
        }
        let mut outputs: Vec<Vec<Option<Array4<f32>>>> = expected.iter().map(|n| vec![None; *n]).collect();
        for (_, group) in groups {
            for chunk in chunk_by_rows(group, self.cfg.max_rows.max(1)) {
                let ids: Vec<(usize, usize)> = chunk.iter().map(|(id, _)| *id).collect();
                match run_merged(engine, chunk, self.observer.as_ref()) {
                    Ok(outs) => {
                        for ((i, k), out) in ids.into_iter().zip(outs) {
                            outputs[i][k] = Some(out);
                        }
                    }
                    Err(e) => {
                        tracing::error!(device = %self.cfg.device, "UNet call failed: {e}");
                        self.status.lock().last_error = Some(e.to_string());
                        for (i, _) in ids {
                            if !done[i] {
                                self.tasks[i].fail(share_error(&e));
                                done[i] = true;
                            }
                        }
                    }
                }
            }
        }
        for (i, outs) in outputs.into_iter().enumerate() {
            if done[i] || outs.is_empty() {
                continue;
            }
            let outs: Option<Vec<Array4<f32>>> = outs.into_iter().collect();
            match outs {
                Some(outs) => self.tasks[i].deliver(outs),
                None => {
                    self.tasks[i].fail(PipelineError::Internal("a UNet output went missing".into()));
                    done[i] = true;
                }
            }
        }
        let mut i = 0;
        self.tasks.retain(|_| {
            let keep = !done[i];
            i += 1;
            keep
        });
    }
}

/// Split a group into calls of at most `max_rows` rows; a request is never split.
type Keyed = ((usize, usize), UnetRequest);

fn chunk_by_rows(group: Vec<Keyed>, max_rows: usize) -> Vec<Vec<Keyed>> {
    let mut out: Vec<Vec<Keyed>> = vec![];
    let mut rows = 0;
    for item in group {
        let r = item.1.rows();
        if out.is_empty() || rows + r > max_rows {
            out.push(vec![]);
            rows = 0;
        }
        rows += r;
        if let Some(last) = out.last_mut() {
            last.push(item);
        }
    }
    out
}

/// One UNet call for several requests; returns each request's output rows.
fn run_merged(
    engine: &mut Engine,
    chunk: Vec<Keyed>,
    observer: Option<&Observer>,
) -> Result<Vec<Array4<f32>>, PipelineError> {
    let started = Instant::now();
    let jobs = chunk.len();
    let rows: Vec<usize> = chunk.iter().map(|(_, r)| r.rows()).collect();
    let (sample, timesteps, context) = if chunk.len() == 1 {
        let (_, r) = chunk
            .into_iter()
            .next()
            .ok_or_else(|| PipelineError::Internal("empty chunk".into()))?;
        (r.sample, r.timesteps, r.context)
    } else {
        let samples: Vec<_> = chunk.iter().map(|(_, r)| r.sample.view()).collect();
        let contexts: Vec<_> = chunk.iter().map(|(_, r)| r.context.view()).collect();
        let sample: Array4<f32> = concatenate(Axis(0), &samples).map_err(|e| PipelineError::Internal(e.to_string()))?;
        let context: Array3<f32> =
            concatenate(Axis(0), &contexts).map_err(|e| PipelineError::Internal(e.to_string()))?;
        let timesteps = chunk.iter().flat_map(|(_, r)| r.timesteps.iter().copied()).collect();
        (sample, timesteps, context)
    };
    let total: usize = rows.iter().sum();
    let out = engine.unet(sample, timesteps, context)?;
    if out.shape()[0] != total {
        return Err(PipelineError::Internal(format!(
            "UNet returned {} rows for {total}",
            out.shape()[0]
        )));
    }
    if let Some(obs) = observer {
        obs(WorkerEvent::UnetCall {
            rows: total,
            jobs,
            secs: started.elapsed().as_secs_f64(),
        });
    }
    if rows.len() == 1 {
        return Ok(vec![out]);
    }
    let mut start = 0;
    Ok(rows
        .into_iter()
        .map(|n| {
            let part = out.slice(s![start..start + n, .., .., ..]).to_owned();
            start += n;
            part
        })
        .collect())
}

/// The same failure for each job of a merged call (out-of-memory stays recognisable).
fn share_error(e: &PipelineError) -> PipelineError {
    match e {
        PipelineError::Runtime(super::RuntimeError::OutOfMemory { graph, message }) => {
            PipelineError::Runtime(super::RuntimeError::OutOfMemory {
                graph,
                message: message.clone(),
            })
        }
        other => PipelineError::Internal(other.to_string()),
    }
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("internal error: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("internal error: {s}")
    } else {
        "internal error".into()
    }
}
