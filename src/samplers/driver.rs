//! Turns a sampler written as straight-line `async` code into the step-by-step [`Sampler`] state machine.
//!
//! Each sampling algorithm is an `async fn` that awaits [`Ctx::eval`] wherever k-diffusion calls the
//! model. The compiler turns it into a state machine; [`Driven`] polls it with a no-op waker: a poll that
//! stops at an evaluation hands the request out as [`Step::Evaluate`], and the next call of
//! [`Sampler::next`] puts the denoised result where the awaiting future finds it. No executor, no thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::{Guidance, Latents, Sampler, SamplerError, Step};

/// One evaluation the sampler asks for.
pub(crate) struct EvalRequest {
    pub x: Latents,
    pub sigma: f32,
    pub timestep: Option<f64>,
}

/// The answer: `D(x, σ)` and, for samplers that need it, the unconditional `D`.
pub(crate) struct EvalResult {
    pub denoised: Latents,
    pub uncond: Option<Latents>,
}

#[derive(Default)]
struct Slot {
    request: Option<EvalRequest>,
    result: Option<EvalResult>,
    steps_done: usize,
}

/// What a sampling algorithm uses to talk to its driver.
#[derive(Clone)]
pub(crate) struct Ctx {
    slot: Arc<Mutex<Slot>>,
}

impl Ctx {
    /// `D(x, σ)`; the model timestep is derived from σ by the denoiser.
    pub async fn eval(&self, x: &Latents, sigma: f64) -> Result<Latents, SamplerError> {
        Ok(self.eval_full(x, sigma, None).await?.denoised)
    }

    /// `D(x, σ)` at a model timestep fixed by the sampler (timestep samplers), with the uncond result.
    pub async fn eval_full(&self, x: &Latents, sigma: f64, timestep: Option<f64>) -> Result<EvalResult, SamplerError> {
        let request = EvalRequest {
            x: x.clone(),
            sigma: sigma as f32,
            timestep,
        };
        EvalFuture {
            slot: self.slot.clone(),
            request: Some(request),
        }
        .await
    }

    /// One step finished, as the WebUI's progress callback counts them.
    pub fn step_done(&self) {
        self.slot.lock().steps_done += 1;
    }
}

struct EvalFuture {
    slot: Arc<Mutex<Slot>>,
    request: Option<EvalRequest>,
}

impl Future for EvalFuture {
    type Output = Result<EvalResult, SamplerError>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut slot = this.slot.lock();
        if let Some(request) = this.request.take() {
            slot.request = Some(request);
            return Poll::Pending;
        }
        match slot.result.take() {
            Some(result) => Poll::Ready(Ok(result)),
            None => Poll::Ready(Err(SamplerError::Protocol(
                "evaluation resumed without a result".into(),
            ))),
        }
    }
}

type SamplingFuture = Pin<Box<dyn Future<Output = Result<Latents, SamplerError>> + Send>>;

/// A sampler driven by polling its algorithm's future.
pub(crate) struct Driven {
    future: Option<SamplingFuture>,
    slot: Arc<Mutex<Slot>>,
    pending: Option<PendingEval>,
    total_steps: usize,
    guidance: Guidance,
}

struct PendingEval {
    shape: [usize; 4],
    timestep: Option<f64>,
}

impl Driven {
    /// Wraps an algorithm. `make` receives the context the algorithm awaits evaluations on.
    pub fn new<F, Fut>(total_steps: usize, guidance: Guidance, make: F) -> Self
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: Future<Output = Result<Latents, SamplerError>> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let future = make(Ctx { slot: slot.clone() });
        Self {
            future: Some(Box::pin(future)),
            slot,
            pending: None,
            total_steps,
            guidance,
        }
    }

    fn advance(&mut self, denoised: Option<Latents>, uncond: Option<Latents>) -> Result<Step, SamplerError> {
        let Some(future) = self.future.as_mut() else {
            return Err(SamplerError::Protocol("sampling has already finished".into()));
        };
        match (&self.pending, denoised) {
            (Some(pending), Some(denoised)) => {
                check_shape("denoised", &denoised, pending.shape)?;
                if let Some(u) = &uncond {
                    check_shape("unconditional denoised", u, pending.shape)?;
                }
                if self.guidance.needs_uncond && uncond.is_none() {
                    return Err(SamplerError::Protocol(
                        "this sampler needs the unconditional prediction (next_with_uncond)".into(),
                    ));
                }
                self.pending = None;
                self.slot.lock().result = Some(EvalResult { denoised, uncond });
            }
            (Some(_), None) => {
                return Err(SamplerError::Protocol(
                    "an evaluation is pending: pass its denoised result".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(SamplerError::Protocol(
                    "no evaluation is pending: the first call takes None".into(),
                ));
            }
            (None, None) => {}
        }
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(result) => {
                self.future = None;
                result.map(Step::Done)
            }
            Poll::Pending => {
                let request = self.slot.lock().request.take();
                let Some(request) = request else {
                    self.future = None;
                    return Err(SamplerError::Protocol(
                        "sampler stopped without asking for an evaluation".into(),
                    ));
                };
                let shape = dims(&request.x);
                self.pending = Some(PendingEval {
                    shape,
                    timestep: request.timestep,
                });
                Ok(Step::Evaluate {
                    x: request.x,
                    sigma: request.sigma,
                })
            }
        }
    }
}

impl Sampler for Driven {
    fn next(&mut self, denoised: Option<Latents>) -> Result<Step, SamplerError> {
        self.advance(denoised, None)
    }

    fn next_with_uncond(
        &mut self,
        denoised: Option<Latents>,
        uncond_denoised: Option<Latents>,
    ) -> Result<Step, SamplerError> {
        self.advance(denoised, uncond_denoised)
    }

    fn progress(&self) -> (usize, usize) {
        // DDIM schedules, Restart and DPM adaptive can run more steps than the WebUI announces.
        (self.slot.lock().steps_done.min(self.total_steps), self.total_steps)
    }

    fn pending_timestep(&self) -> Option<f64> {
        self.pending.as_ref().and_then(|p| p.timestep)
    }

    fn guidance(&self) -> Guidance {
        self.guidance
    }
}

pub(crate) fn dims(x: &Latents) -> [usize; 4] {
    let d = x.dim();
    [d.0, d.1, d.2, d.3]
}

pub(crate) fn check_shape(what: &str, x: &Latents, expected: [usize; 4]) -> Result<(), SamplerError> {
    let got = dims(x);
    if got == expected {
        Ok(())
    } else {
        Err(SamplerError::Protocol(format!(
            "{what} has shape {got:?}, expected {expected:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    fn two_evals() -> Driven {
        Driven::new(2, Guidance::default(), |ctx| async move {
            let mut x = Array4::<f32>::ones((1, 1, 1, 2));
            for sigma in [2.0, 1.0] {
                let d = ctx.eval(&x, sigma).await?;
                x = &x + &d;
                ctx.step_done();
            }
            Ok(x)
        })
    }

    #[test]
    fn drives_evaluations_in_order() {
        let mut s = two_evals();
        let Step::Evaluate { sigma, .. } = s.next(None).unwrap() else {
            panic!("expected eval")
        };
        assert_eq!(sigma, 2.0);
        let d = Array4::<f32>::ones((1, 1, 1, 2));
        let Step::Evaluate { x, sigma } = s.next(Some(d.clone())).unwrap() else {
            panic!("expected eval")
        };
        assert_eq!((sigma, x[[0, 0, 0, 0]]), (1.0, 2.0));
        assert_eq!(s.progress(), (1, 2));
        let Step::Done(x) = s.next(Some(d)).unwrap() else {
            panic!("expected done")
        };
        assert_eq!(x[[0, 0, 0, 1]], 3.0);
        assert!(s.next(None).is_err());
    }

    #[test]
    fn protocol_errors_do_not_panic() {
        let mut s = two_evals();
        assert!(s.next(Some(Array4::zeros((1, 1, 1, 2)))).is_err());
        s.next(None).unwrap();
        assert!(s.next(None).is_err());
        assert!(s.next(Some(Array4::zeros((1, 1, 2, 2)))).is_err());
    }
}
