//! The contract between a device worker and a job in progress.
//!
//! The worker owns the engine and drives many tasks at once: it asks each task what it wants,
//! merges the UNet evaluations of tasks with the same shapes into one call (continuous batching),
//! and hands each task its rows back. A task never holds a session.

use ndarray::{Array3, Array4};

use super::Engine;
use crate::pipeline::PipelineError;

/// One UNet evaluation a task needs: its rows, ready for the graph.
#[derive(Debug, Clone)]
pub struct UnetRequest {
    /// `[rows, unet_in_channels, h, w]`, already scaled by c_in (and with inpainting channels).
    pub sample: Array4<f32>,
    /// One timestep per row.
    pub timesteps: Vec<f32>,
    /// `[rows, S, hidden]`.
    pub context: Array3<f32>,
}

impl UnetRequest {
    /// Requests with equal keys can share one UNet call.
    pub fn batch_key(&self) -> (usize, usize, usize, usize) {
        let s = self.sample.shape();
        (s[1], s[2], s[3], self.context.shape()[1])
    }

    pub fn rows(&self) -> usize {
        self.sample.shape()[0]
    }
}

/// What a task wants after [`Task::poll`].
pub enum Poll {
    /// Evaluate the UNet for each request (they may differ in shape, e.g. cond and uncond of
    /// different lengths) and call [`Task::deliver`] with the outputs, in the same order.
    Unet(Vec<UnetRequest>),
    /// The task is over (its result has been sent to its owner).
    Finished,
}

pub trait Task: Send {
    /// Do the work that is due and does not need the UNet (text encoding, VAE, sampler arithmetic,
    /// output encoding), then say what comes next. Errors end the task; the worker reports them.
    fn poll(&mut self, engine: &mut Engine) -> Result<Poll, PipelineError>;
    /// The UNet outputs for the requests of the last [`Poll::Unet`], in order.
    fn deliver(&mut self, outs: Vec<Array4<f32>>);
    /// Report a failure to the task's owner (called once, instead of a result).
    fn fail(&mut self, error: PipelineError);
    /// The job was cancelled before it started: answer it as interrupted, with no images.
    fn cancel(&mut self);
}
