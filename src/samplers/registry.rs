//! The WebUI's sampler and schedule tables (names, aliases, options) and name resolution.

use super::{Guidance, SamplerError};

/// Which WebUI sampler class runs it (decides the model wrapper and how steps map to noise levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `KDiffusionSampler`: σ schedules, `CompVisDenoiser`/`CompVisVDenoiser`.
    KDiffusion,
    /// `CompVisSampler`: integer timesteps `range(0, 1000, 1000 // steps) + 1`; schedules do not apply.
    Timesteps,
    /// `LCMSampler`: σ schedules over the LCM denoiser's 50 timesteps.
    Lcm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    DpmPp2m,
    DpmPpSde,
    DpmPp2mSde,
    DpmPp2sA,
    DpmPp3mSde,
    EulerA,
    Euler,
    Lms,
    Heun,
    Dpm2,
    Dpm2A,
    DpmFast,
    DpmAdaptive,
    Restart,
    Ddim,
    DdimCfgPp,
    Plms,
    UniPc,
    Lcm,
}

/// One sampler of the WebUI's list, with its options.
#[derive(Debug)]
pub struct SamplerInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub family: Family,
    /// The schedule "Automatic" means (`options['scheduler']`); `None`: the model's uniform timesteps.
    pub default_schedule: Option<Schedule>,
    pub second_order: bool,
    pub brownian_noise: bool,
    pub uses_ensd: bool,
    pub discard_next_to_last_sigma: bool,
    /// `solver_type='heun'` (DPM++ 2M SDE Heun).
    pub solver_heun: bool,
    /// The WebUI passes `eta` (the function has an `eta` parameter).
    pub takes_eta: bool,
    /// The WebUI passes `s_noise`.
    pub takes_s_noise: bool,
    /// The WebUI passes `s_churn`, `s_tmin`, `s_tmax`.
    pub takes_churn: bool,
    pub(crate) algo: Algo,
}

impl SamplerInfo {
    /// The `options` dict of `/sdapi/v1/samplers`, as (key, value) in the WebUI's order.
    pub fn options(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(s) = self.default_schedule {
            out.push(("scheduler", s.info().name.to_string()));
        }
        if self.discard_next_to_last_sigma {
            out.push(("discard_next_to_last_sigma", "True".into()));
        }
        if self.uses_ensd {
            out.push(("uses_ensd", "True".into()));
        }
        if self.second_order {
            out.push(("second_order", "True".into()));
        }
        if self.brownian_noise {
            out.push(("brownian_noise", "True".into()));
        }
        if self.solver_heun {
            out.push(("solver_type", "heun".into()));
        }
        out
    }

    /// The WebUI's `SamplerData.total_steps`: expected denoiser calls (second-order samplers: twice).
    pub fn total_steps(&self, steps: usize) -> usize {
        if self.second_order { steps * 2 } else { steps }
    }
}

const fn k(name: &'static str, aliases: &'static [&'static str], algo: Algo) -> SamplerInfo {
    SamplerInfo {
        name,
        aliases,
        family: Family::KDiffusion,
        default_schedule: None,
        second_order: false,
        brownian_noise: false,
        uses_ensd: false,
        discard_next_to_last_sigma: false,
        solver_heun: false,
        takes_eta: false,
        takes_s_noise: false,
        takes_churn: false,
        algo,
    }
}

const KARRAS: Option<Schedule> = Some(Schedule::Karras);
const EXPONENTIAL: Option<Schedule> = Some(Schedule::Exponential);

/// All samplers in the WebUI's order (`sd_samplers.all_samplers`, v1.10).
static SAMPLERS: [SamplerInfo; 20] = [
    SamplerInfo {
        default_schedule: KARRAS,
        ..k("DPM++ 2M", &["k_dpmpp_2m"], Algo::DpmPp2m)
    },
    SamplerInfo {
        default_schedule: KARRAS,
        second_order: true,
        brownian_noise: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM++ SDE", &["k_dpmpp_sde"], Algo::DpmPpSde)
    },
    SamplerInfo {
        default_schedule: EXPONENTIAL,
        brownian_noise: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM++ 2M SDE", &["k_dpmpp_2m_sde"], Algo::DpmPp2mSde)
    },
    SamplerInfo {
        default_schedule: EXPONENTIAL,
        brownian_noise: true,
        solver_heun: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM++ 2M SDE Heun", &["k_dpmpp_2m_sde_heun"], Algo::DpmPp2mSde)
    },
    SamplerInfo {
        default_schedule: KARRAS,
        uses_ensd: true,
        second_order: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM++ 2S a", &["k_dpmpp_2s_a"], Algo::DpmPp2sA)
    },
    SamplerInfo {
        default_schedule: EXPONENTIAL,
        discard_next_to_last_sigma: true,
        brownian_noise: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM++ 3M SDE", &["k_dpmpp_3m_sde"], Algo::DpmPp3mSde)
    },
    SamplerInfo {
        uses_ensd: true,
        takes_eta: true,
        ..k("Euler a", &["k_euler_a", "k_euler_ancestral"], Algo::EulerA)
    },
    SamplerInfo {
        takes_churn: true,
        takes_s_noise: true,
        ..k("Euler", &["k_euler"], Algo::Euler)
    },
    k("LMS", &["k_lms"], Algo::Lms),
    SamplerInfo {
        second_order: true,
        takes_churn: true,
        takes_s_noise: true,
        ..k("Heun", &["k_heun"], Algo::Heun)
    },
    SamplerInfo {
        default_schedule: KARRAS,
        discard_next_to_last_sigma: true,
        second_order: true,
        takes_churn: true,
        takes_s_noise: true,
        ..k("DPM2", &["k_dpm_2"], Algo::Dpm2)
    },
    SamplerInfo {
        default_schedule: KARRAS,
        discard_next_to_last_sigma: true,
        uses_ensd: true,
        second_order: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM2 a", &["k_dpm_2_a"], Algo::Dpm2A)
    },
    SamplerInfo {
        uses_ensd: true,
        takes_eta: true,
        takes_s_noise: true,
        ..k("DPM fast", &["k_dpm_fast"], Algo::DpmFast)
    },
    SamplerInfo {
        uses_ensd: true,
        takes_eta: true,
        ..k("DPM adaptive", &["k_dpm_ad"], Algo::DpmAdaptive)
    },
    SamplerInfo {
        default_schedule: KARRAS,
        second_order: true,
        ..k("Restart", &["restart"], Algo::Restart)
    },
    SamplerInfo {
        family: Family::Timesteps,
        takes_eta: true,
        ..k("DDIM", &["ddim"], Algo::Ddim)
    },
    SamplerInfo {
        family: Family::Timesteps,
        takes_eta: true,
        ..k("DDIM CFG++", &["ddim_cfgpp"], Algo::DdimCfgPp)
    },
    SamplerInfo {
        family: Family::Timesteps,
        ..k("PLMS", &["plms"], Algo::Plms)
    },
    SamplerInfo {
        family: Family::Timesteps,
        ..k("UniPC", &["unipc"], Algo::UniPc)
    },
    SamplerInfo {
        family: Family::Lcm,
        ..k("LCM", &["k_lcm"], Algo::Lcm)
    },
];

/// Every sampler, in the WebUI's order.
pub fn all_samplers() -> &'static [SamplerInfo] {
    &SAMPLERS
}

/// A schedule type (the WebUI's `scheduler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schedule {
    Automatic,
    Uniform,
    Karras,
    Exponential,
    Polyexponential,
    SgmUniform,
    KlOptimal,
    AlignYourSteps,
    Simple,
    Normal,
    Ddim,
    Beta,
}

/// One row of `/sdapi/v1/schedulers`.
#[derive(Debug)]
pub struct ScheduleInfo {
    pub schedule: Schedule,
    pub name: &'static str,
    pub label: &'static str,
    pub aliases: &'static [&'static str],
    /// -1 when the schedule has no rho.
    pub default_rho: f64,
    pub need_inner_model: bool,
}

const fn sch(schedule: Schedule, name: &'static str, label: &'static str, inner: bool) -> ScheduleInfo {
    ScheduleInfo {
        schedule,
        name,
        label,
        aliases: &[],
        default_rho: -1.0,
        need_inner_model: inner,
    }
}

static SCHEDULES: [ScheduleInfo; 12] = [
    sch(Schedule::Automatic, "automatic", "Automatic", false),
    sch(Schedule::Uniform, "uniform", "Uniform", true),
    ScheduleInfo {
        default_rho: 7.0,
        ..sch(Schedule::Karras, "karras", "Karras", false)
    },
    sch(Schedule::Exponential, "exponential", "Exponential", false),
    ScheduleInfo {
        default_rho: 1.0,
        ..sch(Schedule::Polyexponential, "polyexponential", "Polyexponential", false)
    },
    ScheduleInfo {
        aliases: &["SGMUniform"],
        ..sch(Schedule::SgmUniform, "sgm_uniform", "SGM Uniform", true)
    },
    sch(Schedule::KlOptimal, "kl_optimal", "KL Optimal", false),
    sch(Schedule::AlignYourSteps, "align_your_steps", "Align Your Steps", false),
    sch(Schedule::Simple, "simple", "Simple", true),
    sch(Schedule::Normal, "normal", "Normal", true),
    sch(Schedule::Ddim, "ddim", "DDIM", true),
    sch(Schedule::Beta, "beta", "Beta", true),
];

/// Every schedule type, in the WebUI's order.
pub fn all_schedules() -> &'static [ScheduleInfo] {
    &SCHEDULES
}

impl Schedule {
    pub fn info(self) -> &'static ScheduleInfo {
        // The table holds every variant once, in declaration order.
        &SCHEDULES[self as usize]
    }

    /// By label, name or alias (case-insensitive).
    pub fn parse(name: &str) -> Result<Self, SamplerError> {
        let name = name.trim();
        SCHEDULES
            .iter()
            .find(|s| s.names().any(|n| n.eq_ignore_ascii_case(name)))
            .map(|s| s.schedule)
            .ok_or_else(|| SamplerError::UnknownSchedule {
                name: name.to_string(),
                valid: SCHEDULES.iter().map(|s| s.label).collect::<Vec<_>>().join(", "),
            })
    }
}

impl ScheduleInfo {
    fn names(&self) -> impl Iterator<Item = &'static str> {
        [self.label, self.name].into_iter().chain(self.aliases.iter().copied())
    }
}

/// A sampler chosen for a request, with its schedule type.
#[derive(Debug, Clone, Copy)]
pub struct SamplerSpec {
    info: &'static SamplerInfo,
    schedule: Schedule,
}

impl SamplerSpec {
    /// Resolves a sampler name as the WebUI's `get_sampler_and_scheduler` does: a trailing schedule
    /// label/name/alias is split off (pre-1.9 names such as "DPM++ 2M Karras", "LMS Karras") and wins over
    /// `scheduler`; names and aliases (`k_dpmpp_2m`) match case-insensitively; an empty name is the first
    /// sampler ("DPM++ 2M"); a schedule equal to the sampler's default becomes Automatic. Unlike the WebUI,
    /// unknown names are errors (the WebUI silently falls back to its first sampler / Automatic).
    pub fn resolve(name: &str, scheduler: Option<&str>) -> Result<Self, SamplerError> {
        let mut schedule = match scheduler.map(str::trim) {
            None | Some("") => Schedule::Automatic,
            Some(s) => Schedule::parse(s)?,
        };
        let mut name = name.trim();
        if name.is_empty() {
            name = SAMPLERS[0].name;
        }
        let info = match find_sampler(name) {
            Some(info) => info,
            None => {
                for s in SCHEDULES.iter() {
                    for option in s.names() {
                        let Some(cut) = name.len().checked_sub(option.len() + 1) else {
                            continue;
                        };
                        let (Some(head), Some(tail)) = (name.get(..cut), name.get(cut..)) else {
                            continue;
                        };
                        if tail.starts_with(' ') && tail[1..].eq_ignore_ascii_case(option) {
                            schedule = s.schedule;
                            name = head.trim_end();
                            break;
                        }
                    }
                }
                find_sampler(name).ok_or_else(|| SamplerError::UnknownSampler {
                    name: name.to_string(),
                    valid: SAMPLERS.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
                })?
            }
        };
        if info.default_schedule == Some(schedule) {
            schedule = Schedule::Automatic;
        }
        Ok(Self { info, schedule })
    }

    /// The WebUI's canonical name (what the infotext says).
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    pub fn info(&self) -> &'static SamplerInfo {
        self.info
    }

    /// The schedule type as requested (Automatic when it is the sampler's default): the label the infotext's
    /// "Schedule type" carries.
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// The schedule actually used; `None`: the model's uniform timesteps (k-diffusion `get_sigmas`).
    /// Timestep samplers ignore schedules in the WebUI, and so here.
    pub fn effective_schedule(&self) -> Option<Schedule> {
        match self.schedule {
            Schedule::Automatic => self.info.default_schedule,
            s => Some(s),
        }
    }

    /// The label the WebUI's `get_sigmas` writes as "Schedule type" into the infotext: the effective
    /// schedule's (e.g. "Karras" for DPM++ 2M on Automatic); `None` for the model's uniform timesteps and for
    /// timestep samplers.
    pub fn infotext_schedule_label(&self) -> Option<&'static str> {
        match self.info.family {
            Family::Timesteps => None,
            _ => self.effective_schedule().map(|s| s.info().label),
        }
    }

    /// How the WebUI combines classifier-free guidance for this sampler.
    pub fn guidance(&self) -> Guidance {
        match self.info.algo {
            Algo::DdimCfgPp => Guidance {
                cfg_scale_multiplier: 1.0 / 12.5,
                needs_uncond: true,
            },
            _ => Guidance::default(),
        }
    }
}

fn find_sampler(name: &str) -> Option<&'static SamplerInfo> {
    SAMPLERS.iter().find(|s| s.name == name).or_else(|| {
        SAMPLERS
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_table_matches_enum_order() {
        for (i, s) in SCHEDULES.iter().enumerate() {
            assert_eq!(s.schedule as usize, i);
        }
    }

    #[test]
    fn resolves_names_aliases_and_legacy_labels() {
        let s = SamplerSpec::resolve("DPM++ 2M Karras", None).unwrap();
        assert_eq!((s.name(), s.schedule()), ("DPM++ 2M", Schedule::Automatic));
        let s = SamplerSpec::resolve("DPM++ 2M SDE Karras", Some("Uniform")).unwrap();
        assert_eq!((s.name(), s.schedule()), ("DPM++ 2M SDE", Schedule::Karras));
        let s = SamplerSpec::resolve("LMS Karras", None).unwrap();
        assert_eq!((s.name(), s.effective_schedule()), ("LMS", Some(Schedule::Karras)));
        let s = SamplerSpec::resolve("k_dpmpp_2m", Some("sgm_uniform")).unwrap();
        assert_eq!((s.name(), s.schedule()), ("DPM++ 2M", Schedule::SgmUniform));
        let s = SamplerSpec::resolve("euler A", Some("SGMUniform")).unwrap();
        assert_eq!((s.name(), s.schedule()), ("Euler a", Schedule::SgmUniform));
        assert_eq!(SamplerSpec::resolve("DDIM", None).unwrap().name(), "DDIM");
        assert_eq!(SamplerSpec::resolve("DDIM CFG++", None).unwrap().name(), "DDIM CFG++");
        assert_eq!(SamplerSpec::resolve("", None).unwrap().name(), "DPM++ 2M");
        assert_eq!(
            SamplerSpec::resolve("DPM++ 2M SDE Heun Exponential", None)
                .unwrap()
                .name(),
            "DPM++ 2M SDE Heun"
        );
        assert_eq!(SamplerSpec::resolve("Euler", None).unwrap().effective_schedule(), None);
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = SamplerSpec::resolve("Euler z", None).unwrap_err().to_string();
        assert!(e.contains("DPM++ 2M SDE Heun") && e.contains("LCM"), "{e}");
        let e = SamplerSpec::resolve("Euler", Some("Linear")).unwrap_err().to_string();
        assert!(e.contains("Align Your Steps"), "{e}");
        assert!(SamplerSpec::resolve("é Karras", None).is_err());
    }
}
