//! The WebUI's infotext for each image and its `info` for the whole job.

use super::job::Mode;
use super::output::GenerationInfo;
use super::task::JobTask;
use crate::images::{self, InfoValue};
use crate::samplers::SamplerSpec;

/// sdgate's version, where the WebUI writes its own ("v1.10.1").
pub fn version() -> String {
    format!("sdgate {}", env!("CARGO_PKG_VERSION"))
}

fn spec_of(task: &JobTask) -> Option<SamplerSpec> {
    let j = task.job();
    SamplerSpec::resolve(&j.sampler.sampler, Some(&j.sampler.scheduler)).ok()
}

/// The infotext of image `index` (0-based over the whole job), `width × height` as generated.
pub fn infotext(task: &JobTask, index: usize, width: usize, height: usize) -> String {
    let j = task.job();
    let m = &task.ctx().folder.manifest;
    let (seeds, subseeds) = task.seeds();
    let (prompts, negatives) = task.prompts();
    let spec = spec_of(task);
    let mut extra: Vec<(String, Option<InfoValue>)> = Vec::new();
    let mut denoising = None;
    match &j.mode {
        Mode::Img2Img {
            denoising_strength,
            initial_noise_multiplier,
            ..
        } => {
            denoising = Some(f64::from(*denoising_strength));
            if let Some(m) = initial_noise_multiplier.filter(|m| *m != 1.0) {
                extra.push(("Noise multiplier".into(), Some(InfoValue::Float(f64::from(m)))));
            }
            if let Some(state) = task.img2img_state() {
                extra.extend(state.extra_params.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
            }
        }
        Mode::Txt2Img { hires: Some(h) } => {
            denoising = Some(f64::from(h.denoising_strength));
            let scale = h.width as f64 / j.width as f64;
            extra.push((
                "Hires upscale".into(),
                Some(InfoValue::Float((scale * 100.0).round() / 100.0)),
            ));
            if h.second_pass_steps != 0 {
                extra.push(("Hires steps".into(), Some(InfoValue::Int(h.second_pass_steps as i64))));
            }
            extra.push(("Hires upscaler".into(), Some(h.upscaler.clone().into())));
            if let Some(s) = &h.sampler {
                extra.push(("Hires sampler".into(), Some(s.sampler.clone().into())));
            }
            if let Some(p) = &h.prompt {
                extra.push(("Hires prompt".into(), Some(p.clone().into())));
            }
            if let Some(p) = &h.negative_prompt {
                extra.push(("Hires negative prompt".into(), Some(p.clone().into())));
            }
        }
        Mode::Txt2Img { hires: None } => {}
    }
    if let Some(ti) = crate::prompt::ti::ti_hashes_infotext(task.used_embeddings()) {
        extra.push(("TI hashes".into(), Some(ti.into())));
    }
    if !task.extra_networks().is_empty() {
        extra.push((
            "Extra networks (not applied)".into(),
            Some(task.extra_networks().join(" ").into()),
        ));
    }
    let uses_ensd = spec.is_some_and(|s| s.info().uses_ensd);
    let info = images::GenerationInfo {
        prompt: prompts[index].clone(),
        negative_prompt: negatives[index].clone(),
        steps: j.steps as u32,
        sampler: j.sampler.sampler.clone(),
        schedule_type: spec.and_then(|s| s.infotext_schedule_label()).map(str::to_string),
        cfg_scale: f64::from(j.cfg_scale),
        seed: seeds[index] as i64,
        width: width as u32,
        height: height as u32,
        model_hash: m.source.short_hash.clone(),
        model: Some(m.name.clone()),
        variation_seed: Some(subseeds[index] as i64),
        variation_seed_strength: f64::from(j.seed.subseed_strength),
        seed_resize_from: j.seed.resize_from.map(|(w, h)| (w as i64, h as i64)),
        denoising_strength: denoising,
        clip_skip: j.clip_skip as u32,
        ensd: (uses_ensd && j.seed.eta_noise_seed_delta != 0).then_some(j.seed.eta_noise_seed_delta as i64),
        rng: Some(j.seed.source.to_string()),
        extra,
        version: Some(version()),
        ..images::GenerationInfo::default()
    };
    info.to_infotext()
}

/// The WebUI's `info` of the whole job.
pub fn generation_info(task: &JobTask) -> GenerationInfo {
    let j = task.job();
    let m = &task.ctx().folder.manifest;
    let (seeds, subseeds) = task.seeds();
    let (prompts, negatives) = task.prompts();
    let infotexts: Vec<String> = task.images().iter().map(|i| i.infotext.clone()).collect();
    let (width, height) = match &j.mode {
        Mode::Txt2Img { hires: Some(h) } => (h.width, h.height),
        _ => (j.width, j.height),
    };
    let denoising_strength = match &j.mode {
        Mode::Img2Img { denoising_strength, .. } => Some(*denoising_strength),
        Mode::Txt2Img { hires: Some(h) } => Some(h.denoising_strength),
        Mode::Txt2Img { hires: None } => None,
    };
    let mut extra = serde_json::Map::new();
    if !task.extra_networks().is_empty() {
        extra.insert(
            "Extra networks (not applied)".into(),
            task.extra_networks().join(" ").into(),
        );
    }
    GenerationInfo {
        prompt: prompts.first().cloned().unwrap_or_default(),
        all_prompts: prompts.to_vec(),
        negative_prompt: negatives.first().cloned().unwrap_or_default(),
        all_negative_prompts: negatives.to_vec(),
        seed: seeds.first().copied().unwrap_or_default(),
        all_seeds: seeds.to_vec(),
        subseed: subseeds.first().copied().unwrap_or_default(),
        all_subseeds: subseeds.to_vec(),
        subseed_strength: j.seed.subseed_strength,
        width,
        height,
        sampler_name: j.sampler.sampler.clone(),
        cfg_scale: j.cfg_scale,
        steps: j.steps,
        batch_size: j.batch_size,
        restore_faces: false,
        face_restoration_model: None,
        sd_model_name: m.name.clone(),
        sd_model_hash: m.source.short_hash.clone(),
        sd_vae_name: None,
        sd_vae_hash: None,
        seed_resize_from_w: j.seed.resize_from.map_or(-1, |r| r.0 as i64),
        seed_resize_from_h: j.seed.resize_from.map_or(-1, |r| r.1 as i64),
        denoising_strength,
        extra_generation_params: extra,
        index_of_first_image: 0,
        infotexts,
        styles: j.styles.clone(),
        job_timestamp: chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
        clip_skip: j.clip_skip,
        is_using_inpainting_conditioning: m.is_inpainting(),
        version: version(),
    }
}
