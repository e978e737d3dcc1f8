//! STUB until samplers lands: the sampler and schedule lists and name resolution, with the
//! signatures the API layer compiles against. The samplers helper replaces this file.

use std::collections::BTreeMap;

use super::SamplerError;
use crate::pipeline::job::SamplerChoice;

#[derive(Debug, Clone)]
pub struct SamplerInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct SchedulerInfo {
    pub name: String,
    pub label: String,
    pub aliases: Vec<String>,
    pub default_rho: Option<f64>,
    pub need_inner_model: bool,
}

const SAMPLERS: &[(&str, &str)] = &[
    ("DPM++ 2M", "k_dpmpp_2m"),
    ("DPM++ SDE", "k_dpmpp_sde"),
    ("DPM++ 2M SDE", "k_dpmpp_2m_sde"),
    ("Euler a", "k_euler_a"),
    ("Euler", "k_euler"),
    ("LMS", "k_lms"),
    ("Heun", "k_heun"),
    ("DDIM", "ddim"),
];

const SCHEDULERS: &[(&str, &str)] = &[
    ("automatic", "Automatic"),
    ("uniform", "Uniform"),
    ("karras", "Karras"),
    ("exponential", "Exponential"),
    ("polyexponential", "Polyexponential"),
    ("sgm_uniform", "SGM Uniform"),
    ("kl_optimal", "KL Optimal"),
    ("align_your_steps", "Align Your Steps"),
    ("simple", "Simple"),
    ("normal", "Normal"),
    ("ddim", "DDIM"),
    ("beta", "Beta"),
];

pub fn list_samplers() -> Vec<SamplerInfo> {
    SAMPLERS
        .iter()
        .map(|(n, a)| SamplerInfo {
            name: n.to_string(),
            aliases: vec![a.to_string()],
            options: BTreeMap::new(),
        })
        .collect()
}

pub fn list_schedulers() -> Vec<SchedulerInfo> {
    SCHEDULERS
        .iter()
        .map(|(n, l)| SchedulerInfo {
            name: n.to_string(),
            label: l.to_string(),
            aliases: vec![],
            default_rho: None,
            need_inner_model: false,
        })
        .collect()
}

/// Resolve a sampler name (or alias, or a pre-1.9 "Name Schedule" form) and a schedule.
pub fn resolve(sampler: Option<&str>, scheduler: Option<&str>) -> Result<SamplerChoice, SamplerError> {
    let find_schedule = |s: &str| {
        SCHEDULERS
            .iter()
            .find(|(n, l)| s.eq_ignore_ascii_case(n) || s.eq_ignore_ascii_case(l))
            .map(|(_, l)| l.to_string())
    };
    let mut schedule = match scheduler.map(str::trim).filter(|s| !s.is_empty()) {
        None => "Automatic".to_string(),
        Some(s) => find_schedule(s).ok_or_else(|| SamplerError::UnknownSchedule {
            name: s.to_string(),
            valid: SCHEDULERS.iter().map(|(_, l)| *l).collect::<Vec<_>>().join(", "),
        })?,
    };
    let mut name = sampler
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(SAMPLERS[0].0);
    let find = |s: &str| {
        SAMPLERS
            .iter()
            .find(|(n, a)| s.eq_ignore_ascii_case(n) || s.eq_ignore_ascii_case(a))
    };
    if find(name).is_none()
        && let Some((head, tail)) = name.rsplit_once(' ')
        && let Some(s) = find_schedule(tail)
    {
        name = head;
        schedule = s;
    }
    let (canonical, _) = find(name).ok_or_else(|| SamplerError::UnknownSampler {
        name: name.to_string(),
        valid: SAMPLERS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
    })?;
    Ok(SamplerChoice {
        sampler: canonical.to_string(),
        scheduler: schedule,
    })
}
