//! Builds the sampler state machine of a plan: the starting latents, the parameters the WebUI passes to
//! each function, and the algorithm.

use super::driver::{Driven, check_shape, dims};
use super::kdiff::{self, KParams};
use super::ops::lincomb;
use super::plan::Walk;
use super::registry::{Algo, Family};
use super::{Latents, NoiseSource, Sampler, SamplerError, SamplerParams, SamplingPlan, SdeNoise, Start, dpm_solver};
use super::{restart, timesteps, unipc};

impl SamplingPlan {
    /// The sampler for this pass. `noise` is the job's `torch.randn_like`; `sde_noise` its Brownian tree
    /// over [`SamplingPlan::brownian_range`], required by the samplers with `brownian_noise`.
    pub fn build(
        &self,
        params: &SamplerParams,
        start: Start,
        noise: Box<dyn NoiseSource>,
        sde_noise: Option<Box<dyn SdeNoise>>,
    ) -> Result<Box<dyn Sampler>, SamplerError> {
        let info = self.spec.info();
        let x = self.start_latents(start)?;
        if x.is_empty() {
            return Err(SamplerError::InvalidParameter("latents must not be empty".into()));
        }
        let kp = self.kparams(params)?;
        let guidance = self.spec.guidance();
        let total = self.webui_steps;
        let sde = || {
            sde_noise.ok_or_else(|| {
                SamplerError::InvalidParameter(format!("{} needs an SDE noise sampler (Brownian tree)", info.name))
            })
        };
        let sampler: Driven = match &self.walk {
            Walk::Sigmas { sched, .. } => {
                let s = sched.clone();
                match info.algo {
                    Algo::Euler => Driven::new(total, guidance, |c| kdiff::euler(c, x, s, kp, noise)),
                    Algo::EulerA => Driven::new(total, guidance, |c| kdiff::euler_ancestral(c, x, s, kp, noise)),
                    Algo::Heun => Driven::new(total, guidance, |c| kdiff::heun(c, x, s, kp, noise)),
                    Algo::Dpm2 => Driven::new(total, guidance, |c| kdiff::dpm_2(c, x, s, kp, noise)),
                    Algo::Dpm2A => Driven::new(total, guidance, |c| kdiff::dpm_2_ancestral(c, x, s, kp, noise)),
                    Algo::Lms => Driven::new(total, guidance, |c| kdiff::lms(c, x, s)),
                    Algo::DpmPp2sA => Driven::new(total, guidance, |c| kdiff::dpmpp_2s_ancestral(c, x, s, kp, noise)),
                    Algo::DpmPp2m => Driven::new(total, guidance, |c| kdiff::dpmpp_2m(c, x, s)),
                    Algo::DpmPpSde => {
                        let n = sde()?;
                        Driven::new(total, guidance, |c| kdiff::dpmpp_sde(c, x, s, kp, n))
                    }
                    Algo::DpmPp2mSde => {
                        let n = sde()?;
                        let heun = info.solver_heun;
                        Driven::new(total, guidance, move |c| kdiff::dpmpp_2m_sde(c, x, s, kp, heun, n))
                    }
                    Algo::DpmPp3mSde => {
                        let n = sde()?;
                        Driven::new(total, guidance, |c| kdiff::dpmpp_3m_sde(c, x, s, kp, n))
                    }
                    Algo::Lcm => Driven::new(total, guidance, |c| kdiff::lcm(c, x, s, noise)),
                    Algo::Restart => Driven::new(total, guidance, |c| restart::restart(c, x, s, noise)),
                    Algo::DpmFast | Algo::DpmAdaptive => {
                        // txt2img: the model's σ range and `steps`; img2img: the schedule's cut.
                        let (smin, smax, n) = if self.is_img2img {
                            (s[s.len() - 2], s[0], s.len() - 1)
                        } else {
                            (self.table().sigma_min(), self.table().sigma_max(), total)
                        };
                        // The WebUI fails here too ("eta must be 0 for reverse sampling").
                        if !(smin > 0.0 && smax > smin) {
                            return Err(SamplerError::InvalidParameter(format!(
                                "{} needs two noise levels above 0 (raise steps or denoising strength)",
                                info.name
                            )));
                        }
                        if info.algo == Algo::DpmFast {
                            Driven::new(total, guidance, move |c| {
                                dpm_solver::dpm_fast(c, x, smin, smax, n, kp.eta, kp.s_noise, noise)
                            })
                        } else {
                            Driven::new(total, guidance, move |c| {
                                dpm_solver::dpm_adaptive(c, x, smin, smax, kp.eta, noise)
                            })
                        }
                    }
                    Algo::Ddim | Algo::DdimCfgPp | Algo::Plms | Algo::UniPc => {
                        return Err(SamplerError::Protocol("timestep sampler planned with sigmas".into()));
                    }
                }
            }
            Walk::Timesteps {
                timesteps: ts,
                noised_at,
            } => {
                let ts = ts.clone();
                let ac = self.alphas_cumprod.clone();
                match info.algo {
                    Algo::Ddim | Algo::DdimCfgPp => {
                        let cfg_pp = info.algo == Algo::DdimCfgPp;
                        Driven::new(total, guidance, move |c| {
                            timesteps::ddim(c, x, ac, ts, kp.eta, cfg_pp, noise)
                        })
                    }
                    Algo::Plms => Driven::new(total, guidance, |c| timesteps::plms(c, x, ac, ts)),
                    Algo::UniPc => {
                        let steps = ts.len();
                        let n = ac.len() as f32;
                        let t_start = noised_at.and(ts.last().map(|&t| t as f32 / n + 1.0 / n));
                        // The WebUI 1.10 asserts order <= steps; here the order is lowered to the steps.
                        let order = params.uni_pc_order.clamp(1, 10).min(steps.max(1));
                        if steps == 0 {
                            return Err(SamplerError::InvalidParameter("UniPC needs at least one step".into()));
                        }
                        let lof = params.uni_pc_lower_order_final;
                        Driven::new(total, guidance, move |c| {
                            unipc::unipc(c, x, ac, steps, t_start, order, lof)
                        })
                    }
                    _ => return Err(SamplerError::Protocol("sigma sampler planned with timesteps".into())),
                }
            }
        };
        Ok(Box::new(sampler))
    }

    /// The WebUI's starting latents of the pass.
    fn start_latents(&self, start: Start) -> Result<Latents, SamplerError> {
        match (&self.walk, start) {
            (_, Start::Txt2Img { .. }) if self.is_img2img => Err(SamplerError::InvalidParameter(
                "an img2img pass needs the init latent".into(),
            )),
            (_, Start::Img2Img { .. }) if !self.is_img2img => Err(SamplerError::InvalidParameter(
                "a txt2img pass starts from noise only".into(),
            )),
            (Walk::Sigmas { sched, .. }, Start::Txt2Img { noise }) => {
                let s0 = sched[0] as f64;
                let k = if self.sgm_noise_multiplier {
                    (1.0 + s0 * s0).sqrt()
                } else {
                    s0
                };
                Ok(noise.mapv(|v| v * k as f32))
            }
            (Walk::Sigmas { sched, .. }, Start::Img2Img { init_latent, noise }) => {
                check_shape("noise", &noise, dims(&init_latent))?;
                Ok(lincomb(1.0, &init_latent, sched[0], &noise))
            }
            (Walk::Timesteps { .. }, Start::Txt2Img { noise }) => Ok(noise),
            (Walk::Timesteps { noised_at, .. }, Start::Img2Img { init_latent, noise }) => {
                check_shape("noise", &noise, dims(&init_latent))?;
                let t = noised_at.ok_or_else(|| SamplerError::Protocol("img2img plan without a start".into()))?;
                let a = self.alphas_cumprod[t];
                Ok(lincomb(a.sqrt(), &init_latent, (1.0 - a).sqrt(), &noise))
            }
        }
    }

    /// The parameters the WebUI passes to the sampler function.
    fn kparams(&self, p: &SamplerParams) -> Result<KParams, SamplerError> {
        let info = self.spec.info();
        let default_eta = if info.family == Family::Timesteps { 0.0 } else { 1.0 };
        let eta = if info.takes_eta {
            p.eta.unwrap_or(default_eta)
        } else {
            default_eta
        };
        for (name, v) in [
            ("eta", eta),
            ("s_churn", p.s_churn),
            ("s_tmin", p.s_tmin),
            ("s_noise", p.s_noise),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(SamplerError::InvalidParameter(format!(
                    "{name} must be finite and >= 0, got {v}"
                )));
            }
        }
        if p.s_tmax.is_nan() || p.s_tmax < 0.0 {
            return Err(SamplerError::InvalidParameter(format!(
                "s_tmax must be >= 0, got {}",
                p.s_tmax
            )));
        }
        let (s_churn, s_tmin, s_tmax) = if info.takes_churn {
            (
                p.s_churn,
                p.s_tmin,
                if p.s_tmax == 0.0 { f64::INFINITY } else { p.s_tmax },
            )
        } else {
            (0.0, 0.0, f64::INFINITY)
        };
        let s_noise = if info.takes_s_noise { p.s_noise } else { 1.0 };
        Ok(KParams {
            eta,
            s_noise,
            s_churn,
            s_tmin,
            s_tmax,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::{ModelSchedule, ModelScheduleConfig, Pass, SamplerSpec, ScheduleOptions, Step};
    use ndarray::Array4;

    struct Zeros;
    impl NoiseSource for Zeros {
        fn randn_like(&mut self, x: &Latents) -> Latents {
            Latents::zeros(x.dim())
        }
    }
    struct WrongShape;
    impl NoiseSource for WrongShape {
        fn randn_like(&mut self, _x: &Latents) -> Latents {
            Latents::zeros((1, 1, 1, 1))
        }
    }

    fn plan(name: &str, pass: Pass) -> Result<SamplingPlan, SamplerError> {
        let model = ModelSchedule::new(&ModelScheduleConfig::sd15()).unwrap();
        SamplerSpec::resolve(name, None)
            .unwrap()
            .plan(&model, pass, &ScheduleOptions::default())
    }

    fn noise() -> Latents {
        Array4::ones((1, 4, 2, 2))
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        assert!(plan("Euler", Pass::Txt2Img { steps: 0 }).is_err());
        assert!(plan("Euler", Pass::Txt2Img { steps: 1_000_000 }).is_err());
        assert!(plan("DDIM", Pass::Txt2Img { steps: 1001 }).is_err());
        assert!(
            plan(
                "Euler",
                Pass::Img2Img {
                    steps: 10,
                    denoising_strength: f64::NAN
                }
            )
            .is_err()
        );
        assert!(
            plan(
                "Euler",
                Pass::HiresSecondPass {
                    steps: 10,
                    denoising_strength: 0.0
                }
            )
            .is_err()
        );
        assert!(
            plan(
                "UniPC",
                Pass::Img2Img {
                    steps: 10,
                    denoising_strength: 0.05
                }
            )
            .is_err()
        );
        let p = plan("DPM++ SDE", Pass::Txt2Img { steps: 5 }).unwrap();
        let err = p.build(
            &SamplerParams::default(),
            Start::Txt2Img { noise: noise() },
            Box::new(Zeros),
            None,
        );
        assert!(err.is_err(), "SDE sampler without a Brownian tree");
        let p = plan(
            "Euler",
            Pass::Img2Img {
                steps: 5,
                denoising_strength: 0.5,
            },
        )
        .unwrap();
        let start = Start::Img2Img {
            init_latent: noise(),
            noise: Array4::ones((1, 4, 2, 3)),
        };
        assert!(
            p.build(&SamplerParams::default(), start, Box::new(Zeros), None)
                .is_err()
        );
        assert!(
            p.build(
                &SamplerParams::default(),
                Start::Txt2Img { noise: noise() },
                Box::new(Zeros),
                None
            )
            .is_err()
        );
        let bad = SamplerParams {
            eta: Some(-1.0),
            ..Default::default()
        };
        let p = plan("Euler a", Pass::Txt2Img { steps: 5 }).unwrap();
        assert!(
            p.build(&bad, Start::Txt2Img { noise: noise() }, Box::new(Zeros), None)
                .is_err()
        );
    }

    #[test]
    fn wrong_noise_shape_is_an_error() {
        let p = plan("Euler a", Pass::Txt2Img { steps: 5 }).unwrap();
        let mut s = p
            .build(
                &SamplerParams::default(),
                Start::Txt2Img { noise: noise() },
                Box::new(WrongShape),
                None,
            )
            .unwrap();
        let Ok(Step::Evaluate { x, .. }) = s.next(None) else {
            panic!("expected an evaluation")
        };
        assert!(s.next(Some(x)).is_err());
    }

    #[test]
    fn ddim_cfgpp_requires_the_uncond_prediction() {
        let p = plan("DDIM CFG++", Pass::Txt2Img { steps: 5 }).unwrap();
        let mut s = p
            .build(
                &SamplerParams::default(),
                Start::Txt2Img { noise: noise() },
                Box::new(Zeros),
                None,
            )
            .unwrap();
        assert_eq!(s.guidance().cfg_scale_multiplier, 1.0 / 12.5);
        let Ok(Step::Evaluate { x, .. }) = s.next(None) else {
            panic!("expected an evaluation")
        };
        assert_eq!(s.pending_timestep(), Some(801.0));
        assert!(s.next(Some(x.clone())).is_err());
        assert!(s.next_with_uncond(Some(x.clone()), Some(x)).is_ok());
    }
}
