//! One job on a device: the state machine the device worker drives.
//!
//! Per iteration (n_iter) of the job: conditioning for the batch's prompts, the starting noise from
//! the batch's seeds, a sampling plan and sampler; then one UNet request per denoiser evaluation
//! (answered by the worker, possibly merged with other jobs' rows); for hires fix a second pass;
//! then VAE decode, infotext and PNG. Interrupt and skip are honoured between evaluations.

use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array4, Axis, s};

use super::context::ModelContext;
use super::guidance::{self, BatchConds, ModelExtras, RowLayout};
use super::job::{HiresFix, Mode};
use super::output::{GeneratedImage, GenerationOutput};
use super::prepare::{self, Img2ImgState};
use super::{GenerationJob, JobControl, PipelineError, info};
use crate::prompt::{Conditioner, ConditionerOptions, EncodeReport, ScheduleSteps};
use crate::rng::{BrownianTreeNoise, ImageRng, ImageRngConfig, RandnSettings, SigmaTransform};
use crate::runtime::Engine;
use crate::runtime::pool::Reply;
use crate::runtime::task::{Poll, Task};
use crate::samplers::{
    Latents, ModelInput, Pass, Sampler, SamplerParams, SamplerSpec, SamplingPlan, ScheduleOptions, Start, Step,
};

/// Which pass of an iteration is sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassKind {
    First,
    Hires,
}

/// A sampling pass in progress.
struct PassState {
    kind: PassKind,
    spec: SamplerSpec,
    plan: SamplingPlan,
    sampler: Box<dyn Sampler>,
    conds: Arc<BatchConds>,
    cfg_scale: f64,
    /// Denoiser calls so far (the WebUI's CFGDenoiser.step, which drives prompt schedules).
    evals: usize,
    /// The evaluation asked of the worker: x, σ, model input, row layout.
    pending: Option<(Latents, f32, ModelInput, RowLayout)>,
    /// UNet outputs delivered for `pending`.
    delivered: Option<Vec<Array4<f32>>>,
    /// The latest x the sampler evaluated (what an interrupt decodes).
    last_x: Option<Latents>,
    /// Inpainting on a standard model: (init_latent, mask, nmask) in latent shape.
    blend: Option<(Array4<f32>, Array4<f32>, Array4<f32>)>,
    /// 9-channel models: the image conditioning `[B, 1 + C, h, w]`.
    image_cond: Option<Array4<f32>>,
    /// Steps of this pass already counted into the job's progress.
    counted: usize,
}

enum Phase {
    /// Start the next iteration.
    Begin,
    Sampling(Box<PassState>),
    Done,
}

pub struct JobTask {
    job: GenerationJob,
    control: Arc<JobControl>,
    reply: Option<Reply>,
    ctx: Arc<ModelContext>,
    phase: Phase,
    iteration: usize,
    /// Seeds and prompts of every image of the job, as the WebUI's all_seeds / all_prompts.
    all_seeds: Vec<u64>,
    all_subseeds: Vec<u64>,
    prompts: Vec<String>,
    negative_prompts: Vec<String>,
    extra_networks: Vec<String>,
    img2img: Option<Img2ImgState>,
    images: Vec<GeneratedImage>,
    used_embeddings: Vec<Arc<crate::prompt::ti::Embedding>>,
    interrupted: bool,
    started: Option<Instant>,
    /// The UNet requests of the evaluation being asked for.
    pending_requests: Option<Vec<crate::runtime::task::UnetRequest>>,
}

impl JobTask {
    pub fn new(job: GenerationJob, control: Arc<JobControl>, reply: Reply, ctx: Arc<ModelContext>) -> Self {
        let n = job.image_count();
        let strength = job.seed.subseed_strength;
        // The WebUI's all_seeds: seed + i, except with a variation strength, where every image keeps the seed.
        let all_seeds = (0..n as u64)
            .map(|i| {
                if strength != 0.0 {
                    job.seed.seed
                } else {
                    job.seed.seed + i
                }
            })
            .collect();
        let all_subseeds = (0..n as u64).map(|i| job.seed.subseed + i).collect();
        let (prompt, nets) = crate::prompt::parse_extra_networks(&crate::prompt::strip_comments(&job.prompt));
        let (negative, _) = crate::prompt::parse_extra_networks(&crate::prompt::strip_comments(&job.negative_prompt));
        let extra_networks = nets
            .iter()
            .map(|n| format!("<{}:{}>", n.kind, n.items.join(":")))
            .collect();
        Self {
            prompts: vec![prompt; n],
            negative_prompts: vec![negative; n],
            job,
            control,
            reply: Some(reply),
            ctx,
            phase: Phase::Begin,
            iteration: 0,
            all_seeds,
            all_subseeds,
            extra_networks,
            img2img: None,
            images: Vec::new(),
            used_embeddings: Vec::new(),
            interrupted: false,
            started: None,
            pending_requests: None,
        }
    }

    fn batch_range(&self) -> std::ops::Range<usize> {
        let b = self.job.batch_size;
        self.iteration * b..(self.iteration + 1) * b
    }

    fn latent_size(&self, width: usize, height: usize) -> (usize, usize) {
        let f = self.ctx.folder.manifest.vae_scale_factor;
        (height / f, width / f)
    }

    fn first_pass_steps(&self, spec: &SamplerSpec) -> usize {
        spec.info().total_steps(self.job.steps)
    }

    /// Steps of the whole job, for its progress fraction.
    fn total_steps(&self) -> usize {
        let first = match &self.job.mode {
            Mode::Img2Img { denoising_strength, .. } => {
                crate::samplers::img2img_steps(self.job.steps, f64::from(*denoising_strength), false)
                    .map_or(self.job.steps, |(_, t)| t + 1)
            }
            Mode::Txt2Img { .. } => self.job.steps,
        };
        let hires = match &self.job.mode {
            Mode::Txt2Img { hires: Some(h) } => {
                let steps = if h.second_pass_steps == 0 {
                    self.job.steps
                } else {
                    h.second_pass_steps
                };
                crate::samplers::hires_steps(steps, f64::from(h.denoising_strength)).map_or(steps, |(_, t)| t + 1)
            }
            _ => 0,
        };
        (first + hires) * self.job.n_iter
    }

    fn conditioner(&self) -> Result<Conditioner, PipelineError> {
        let options = ConditionerOptions {
            clip_skip: self.job.clip_skip,
            ..ConditionerOptions::default()
        };
        Conditioner::new(
            self.ctx.tokenizer.clone(),
            self.ctx.embeddings.clone(),
            self.ctx.ti.clone(),
            options,
        )
        .map_err(|e| PipelineError::Prompt(e.to_string()))
    }

    fn encode(
        &mut self,
        engine: &mut Engine,
        prompts: &[String],
        negatives: &[String],
        steps: ScheduleSteps,
    ) -> Result<Arc<BatchConds>, PipelineError> {
        let c = self.conditioner()?;
        let mut report = EncodeReport::default();
        let prompt = |e: crate::prompt::PromptError| PipelineError::Prompt(e.to_string());
        let uncond = c
            .get_learned_conditioning(engine, negatives, steps, &mut report)
            .map_err(prompt)?;
        let cond = c
            .get_multicond_learned_conditioning(engine, prompts, steps, &mut report)
            .map_err(prompt)?;
        for e in report.used_embeddings {
            if !self.used_embeddings.iter().any(|u| Arc::ptr_eq(u, &e)) {
                self.used_embeddings.push(e);
            }
        }
        Ok(Arc::new(BatchConds {
            cond: cond.batch,
            uncond,
        }))
    }

    fn rng(&self, width: usize, height: usize) -> Result<ImageRng, PipelineError> {
        let (lh, lw) = self.latent_size(width, height);
        let channels = self.ctx.folder.manifest.latent_channels;
        let r = self.batch_range();
        let seed = &self.job.seed;
        let mut cfg = ImageRngConfig::new(
            RandnSettings::new(seed.source),
            [channels, lh, lw],
            self.all_seeds[r.clone()].to_vec(),
        );
        cfg.subseeds = self.all_subseeds[r].to_vec();
        cfg.subseed_strength = f64::from(seed.subseed_strength);
        if let Some((w, h)) = seed.resize_from {
            cfg.seed_resize_from_w = w as i64;
            cfg.seed_resize_from_h = h as i64;
        }
        cfg.eta_noise_seed_delta = seed.eta_noise_seed_delta as i64;
        ImageRng::new(cfg).map_err(|e| PipelineError::Invalid(e.to_string()))
    }

    fn sampler_params(&self) -> SamplerParams {
        let p = &self.job.params;
        let d = SamplerParams::default();
        SamplerParams {
            eta: p.eta.map(f64::from),
            s_churn: p.s_churn.map_or(d.s_churn, f64::from),
            s_tmin: p.s_tmin.map_or(d.s_tmin, f64::from),
            s_tmax: p.s_tmax.map_or(d.s_tmax, f64::from),
            s_noise: p.s_noise.map_or(d.s_noise, f64::from),
            ..d
        }
    }

    /// Build a pass: plan, noise, sampler.
    #[allow(clippy::too_many_arguments)]
    fn start_pass(
        &self,
        kind: PassKind,
        spec: SamplerSpec,
        pass: Pass,
        width: usize,
        height: usize,
        init_latent: Option<Array4<f32>>,
        conds: Arc<BatchConds>,
    ) -> Result<PassState, PipelineError> {
        let plan = spec.plan(&self.ctx.schedule, pass, &ScheduleOptions::default())?;
        let mut rng = self.rng(width, height)?;
        let mut noise = rng.next_noise();
        // img2img's initial_noise_multiplier scales the starting noise (the WebUI's "Noise multiplier").
        if let (
            PassKind::First,
            Mode::Img2Img {
                initial_noise_multiplier: Some(m),
                ..
            },
        ) = (kind, &self.job.mode)
            && *m != 1.0
        {
            noise *= *m;
        }
        let r = self.batch_range();
        let sde = match (spec.info().brownian_noise, plan.brownian_range()) {
            (true, Some((min, max))) => {
                let (lh, lw) = self.latent_size(width, height);
                let shape = [self.ctx.folder.manifest.latent_channels, lh, lw];
                let tree = BrownianTreeNoise::new(
                    RandnSettings::new(self.job.seed.source),
                    &self.all_seeds[r],
                    shape,
                    min,
                    max,
                    SigmaTransform::Identity,
                )
                .map_err(|e| PipelineError::Invalid(e.to_string()))?;
                Some(Box::new(tree) as Box<dyn crate::samplers::SdeNoise>)
            }
            _ => None,
        };
        let start = match init_latent {
            None => Start::Txt2Img { noise },
            Some(init_latent) => Start::Img2Img { init_latent, noise },
        };
        let sampler = plan.build(&self.sampler_params(), start, Box::new(rng), sde)?;
        let cfg_scale = f64::from(self.job.cfg_scale) * spec.guidance().cfg_scale_multiplier;
        Ok(PassState {
            kind,
            spec,
            plan,
            sampler,
            conds,
            cfg_scale,
            evals: 0,
            pending: None,
            delivered: None,
            last_x: None,
            blend: None,
            image_cond: None,
            counted: 0,
        })
    }

    /// Start iteration `self.iteration`: conditioning, noise, the first pass.
    fn begin_iteration(&mut self, engine: &mut Engine) -> Result<PassState, PipelineError> {
        let spec = SamplerSpec::resolve(&self.job.sampler.sampler, Some(&self.job.sampler.scheduler))?;
        let r = self.batch_range();
        let prompts = self.prompts[r.clone()].to_vec();
        let negatives = self.negative_prompts[r.clone()].to_vec();
        let steps = ScheduleSteps::new(self.first_pass_steps(&spec));
        let conds = self.encode(engine, &prompts, &negatives, steps)?;
        let (w, h) = (self.job.width, self.job.height);
        match self.job.mode.clone() {
            Mode::Txt2Img { .. } => {
                let mut pass = self.start_pass(
                    PassKind::First,
                    spec,
                    Pass::Txt2Img { steps: self.job.steps },
                    w,
                    h,
                    None,
                    conds,
                )?;
                if self.ctx.folder.manifest.is_inpainting() {
                    pass.image_cond = Some(prepare::txt2img_image_conditioning(
                        engine,
                        &self.ctx,
                        self.job.batch_size,
                        w,
                        h,
                    )?);
                }
                Ok(pass)
            }
            Mode::Img2Img { denoising_strength, .. } => {
                if self.img2img.is_none() {
                    self.img2img = Some(prepare::img2img(engine, &self.ctx, &self.job)?);
                }
                let state = self
                    .img2img
                    .as_ref()
                    .ok_or_else(|| PipelineError::Internal("img2img state".into()))?;
                let mut init = state.init_latent.clone();
                // inpainting_fill 2 (latent noise): the masked area starts from the first images' noise.
                if let Some(m) = &state.mask {
                    match m.fill {
                        crate::images::InpaintingFill::LatentNoise => {
                            let mut rng = self.rng(w, h)?;
                            let noise = rng.next_noise();
                            init = &init * &m.mask + &(&noise * &m.nmask);
                        }
                        crate::images::InpaintingFill::LatentNothing => init = &init * &m.mask,
                        _ => {}
                    }
                }
                let pass = Pass::Img2Img {
                    steps: self.job.steps,
                    denoising_strength: f64::from(denoising_strength),
                };
                let mut p = self.start_pass(PassKind::First, spec, pass, w, h, Some(init.clone()), conds)?;
                if let Some(m) = &state.mask {
                    p.blend = Some((init, m.mask.clone(), m.nmask.clone()));
                }
                p.image_cond = state.image_cond.clone();
                Ok(p)
            }
        }
    }

    /// The hires-fix second pass from the first pass's latents.
    fn begin_hires(&mut self, engine: &mut Engine, hires: &HiresFix, x: Latents) -> Result<PassState, PipelineError> {
        let spec = match &hires.sampler {
            Some(c) => SamplerSpec::resolve(&c.sampler, Some(&c.scheduler))?,
            None => SamplerSpec::resolve(&self.job.sampler.sampler, Some(&self.job.sampler.scheduler))?,
        };
        let upscaled = prepare::hires_upscale(engine, &self.ctx, x, hires)?;
        let r = self.batch_range();
        let prompts = match &hires.prompt {
            Some(p) => vec![crate::prompt::parse_extra_networks(&crate::prompt::strip_comments(p)).0; r.len()],
            None => self.prompts[r.clone()].to_vec(),
        };
        let negatives = match &hires.negative_prompt {
            Some(p) => vec![crate::prompt::parse_extra_networks(&crate::prompt::strip_comments(p)).0; r.len()],
            None => self.negative_prompts[r].to_vec(),
        };
        let steps = if hires.second_pass_steps == 0 {
            self.job.steps
        } else {
            hires.second_pass_steps
        };
        let first = self.first_pass_steps(&spec);
        let sched = ScheduleSteps {
            base_steps: first,
            hires_steps: Some(spec.info().total_steps(steps)),
            use_old_scheduling: false,
        };
        let conds = self.encode(engine, &prompts, &negatives, sched)?;
        let pass = Pass::HiresSecondPass {
            steps,
            denoising_strength: f64::from(hires.denoising_strength),
        };
        let mut p = self.start_pass(
            PassKind::Hires,
            spec,
            pass,
            hires.width,
            hires.height,
            Some(upscaled),
            conds,
        )?;
        if self.ctx.folder.manifest.is_inpainting() {
            p.image_cond = Some(prepare::txt2img_image_conditioning(
                engine,
                &self.ctx,
                self.job.batch_size,
                hires.width,
                hires.height,
            )?);
        }
        Ok(p)
    }

    /// Advance the pass until it needs the UNet or is done.
    fn step_pass(&mut self, pass: &mut PassState) -> Result<Option<Latents>, PipelineError> {
        let denoised = match (pass.pending.take(), pass.delivered.take()) {
            (Some((x, sigma, input, layout)), Some(outs)) => {
                let scalings = pass.plan.denoiser().output_scalings(sigma, input.timestep);
                let (mut d, uncond) = guidance::combine(outs, &layout, &x, scalings, pass.cfg_scale)?;
                // k-diffusion samplers blend the denoised prediction with the init latent.
                if let Some((init, mask, nmask)) = &pass.blend
                    && pass.spec.info().family != crate::samplers::Family::Timesteps
                {
                    d = init * mask + &(nmask * &d);
                }
                pass.evals += 1;
                Some((d, uncond))
            }
            (None, None) => None,
            _ => return Err(PipelineError::Internal("UNet output without a request".into())),
        };
        let step = match denoised {
            None => pass.sampler.next(None)?,
            Some((d, u)) if pass.spec.guidance().needs_uncond => pass.sampler.next_with_uncond(Some(d), Some(u))?,
            Some((d, _)) => pass.sampler.next(Some(d))?,
        };
        self.report_progress(pass);
        match step {
            Step::Done(mut x) => {
                if let Some((init, mask, nmask)) = &pass.blend {
                    x = &x * nmask + &(init * mask);
                }
                Ok(Some(x))
            }
            Step::Evaluate { x, sigma } => {
                if self.control.is_interrupted() {
                    self.interrupted = true;
                    return Ok(Some(x));
                }
                if self.control.take_skip() {
                    return Ok(Some(x));
                }
                let input = pass.plan.denoiser().model_input(sigma, pass.sampler.pending_timestep());
                let blend_input = match &pass.blend {
                    Some((init, mask, nmask)) if pass.spec.info().family == crate::samplers::Family::Timesteps => {
                        Some((init, mask, nmask))
                    }
                    _ => None,
                };
                let extras = ModelExtras {
                    image_cond: pass.image_cond.as_ref(),
                    blend_input,
                };
                let (reqs, layout) = guidance::requests(&pass.conds, pass.evals, &x, input, &extras)?;
                pass.last_x = Some(x.clone());
                pass.pending = Some((x, sigma, input, layout));
                self.pending_requests = Some(reqs);
                Ok(None)
            }
        }
    }

    fn report_progress(&self, pass: &mut PassState) {
        let (done, total) = pass.sampler.progress();
        let new = done.saturating_sub(pass.counted);
        pass.counted = done;
        let preview_every = self.job.output.preview_every;
        let preview = if preview_every > 0 && new > 0 && done % preview_every == 0 {
            pass.last_x
                .as_ref()
                .and_then(|x| crate::images::preview_png(x.index_axis(Axis(0), 0), self.ctx.approx, 1).ok())
        } else {
            None
        };
        let (job_no, job_count) = (self.iteration, self.job.n_iter);
        self.control.update(|p| {
            p.sampling_step = done;
            p.sampling_steps = total;
            p.job_no = job_no;
            p.job_count = job_count;
            p.steps_done += new;
            if preview.is_some() {
                p.preview_png = preview;
            }
        });
    }

    /// Decode the batch, make the images, and move to the next iteration.
    fn finish_iteration(
        &mut self,
        engine: &mut Engine,
        x: Latents,
        width: usize,
        height: usize,
    ) -> Result<(), PipelineError> {
        let decoded = engine.vae_decode(&x / self.ctx.folder.manifest.vae_scaling_factor)?;
        let pixels =
            crate::images::tensor_to_images(decoded.view()).map_err(|e| PipelineError::Image(e.to_string()))?;
        let r = self.batch_range();
        for (k, img) in pixels.into_iter().enumerate() {
            let index = r.start + k;
            let img = match self.img2img.as_ref().and_then(|s| s.prepared_mask.as_ref()) {
                Some(m) => m
                    .apply_overlay(&img, k)
                    .map_err(|e| PipelineError::Image(e.to_string()))?,
                None => img,
            };
            let infotext = info::infotext(self, index, width, height);
            // Fast deflate: the worker thread encodes while other jobs wait for their UNet step.
            let png =
                crate::images::encode_png(&img, &[("parameters", &infotext)], crate::images::PngCompression::Fast)
                    .map_err(|e| PipelineError::Image(e.to_string()))?;
            let latents = self
                .job
                .output
                .return_latents
                .then(|| x.slice(s![k, .., .., ..]).to_owned());
            self.images.push(GeneratedImage {
                png,
                width: img.width() as usize,
                height: img.height() as usize,
                seed: self.all_seeds[index],
                subseed: self.all_subseeds[index],
                prompt: self.prompts[index].clone(),
                negative_prompt: self.negative_prompts[index].clone(),
                infotext,
                latents,
            });
        }
        self.iteration += 1;
        Ok(())
    }

    fn send(&mut self, result: Result<GenerationOutput, PipelineError>) {
        if let Some(reply) = self.reply.take() {
            reply.send(result);
        }
        self.phase = Phase::Done;
    }

    fn output(&mut self) -> GenerationOutput {
        let info = info::generation_info(self);
        GenerationOutput {
            images: std::mem::take(&mut self.images),
            info,
            interrupted: self.interrupted,
        }
    }

    fn poll_inner(&mut self, engine: &mut Engine) -> Result<Poll, PipelineError> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return Ok(Poll::Finished),
                Phase::Begin => {
                    if self.started.is_none() {
                        self.started = Some(Instant::now());
                        let total = self.total_steps();
                        self.control.update(|p| {
                            p.started = Some(Instant::now());
                            p.steps_total = total;
                            p.job_count = self.job.n_iter;
                        });
                    }
                    if self.iteration >= self.job.n_iter || self.interrupted {
                        let out = self.output();
                        self.send(Ok(out));
                        return Ok(Poll::Finished);
                    }
                    let pass = self.begin_iteration(engine)?;
                    self.phase = Phase::Sampling(Box::new(pass));
                }
                Phase::Sampling(mut pass) => match self.step_pass(&mut pass)? {
                    None => {
                        let reqs = self.pending_requests.take().unwrap_or_default();
                        self.phase = Phase::Sampling(pass);
                        return Ok(Poll::Unet(reqs));
                    }
                    Some(x) => {
                        let hires = match (&self.job.mode, pass.kind) {
                            (Mode::Txt2Img { hires: Some(h) }, PassKind::First) if !self.interrupted => Some(h.clone()),
                            _ => None,
                        };
                        match hires {
                            Some(h) => {
                                let next = self.begin_hires(engine, &h, x)?;
                                self.phase = Phase::Sampling(Box::new(next));
                            }
                            None => {
                                let (w, h) = match (&self.job.mode, pass.kind) {
                                    (Mode::Txt2Img { hires: Some(h) }, PassKind::Hires) => (h.width, h.height),
                                    _ => (self.job.width, self.job.height),
                                };
                                self.finish_iteration(engine, x, w, h)?;
                                self.phase = Phase::Begin;
                            }
                        }
                    }
                },
            }
        }
    }
}

impl Task for JobTask {
    fn poll(&mut self, engine: &mut Engine) -> Result<Poll, PipelineError> {
        let r = self.poll_inner(engine);
        if r.is_err() {
            self.phase = Phase::Done;
        }
        r
    }

    fn deliver(&mut self, outs: Vec<Array4<f32>>) {
        if let Phase::Sampling(pass) = &mut self.phase {
            pass.delivered = Some(outs);
        }
    }

    fn fail(&mut self, error: PipelineError) {
        self.send(Err(error));
    }

    fn cancel(&mut self) {
        self.interrupted = true;
        let out = self.output();
        self.send(Ok(out));
    }
}

// Accessors for the infotext module.
impl JobTask {
    pub(super) fn job(&self) -> &GenerationJob {
        &self.job
    }
    pub(super) fn ctx(&self) -> &ModelContext {
        &self.ctx
    }
    pub(super) fn seeds(&self) -> (&[u64], &[u64]) {
        (&self.all_seeds, &self.all_subseeds)
    }
    pub(super) fn prompts(&self) -> (&[String], &[String]) {
        (&self.prompts, &self.negative_prompts)
    }
    pub(super) fn extra_networks(&self) -> &[String] {
        &self.extra_networks
    }
    pub(super) fn used_embeddings(&self) -> &[Arc<crate::prompt::ti::Embedding>] {
        &self.used_embeddings
    }
    pub(super) fn img2img_state(&self) -> Option<&Img2ImgState> {
        self.img2img.as_ref()
    }
    pub(super) fn images(&self) -> &[GeneratedImage] {
        &self.images
    }
}
