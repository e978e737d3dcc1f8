//! Classifier-free guidance as the WebUI's CFGDenoiser does it: the UNet rows of one evaluation
//! (each image's conditionings, then the unconditional rows), and the combination of their outputs.

use std::sync::Arc;

use ndarray::{Array2, Array3, Array4, Axis, concatenate, s};

use super::PipelineError;
use crate::prompt::{ComposableCond, ScheduledCond, reconstruct_cond, stack_conds};
use crate::runtime::task::UnetRequest;
use crate::samplers::{Latents, ModelInput, OutputScalings};

/// The conditioning of one batch: per image its weighted sub-prompts (AND), and its negative prompt.
pub struct BatchConds {
    pub cond: Vec<Vec<ComposableCond>>,
    pub uncond: Vec<Arc<[ScheduledCond]>>,
}

/// Which UNet rows belong to which image: `parts[i]` = (cond row, weight) of image i's sub-prompts.
pub struct RowLayout {
    pub parts: Vec<Vec<(usize, f64)>>,
    pub n_cond: usize,
    pub batch: usize,
    /// Cond and uncond rows went to the UNet as two requests (different token lengths).
    pub split: bool,
}

/// Everything that shapes the UNet input besides the latents.
pub struct ModelExtras<'a> {
    /// `[B, 1 + C, h, w]` image conditioning of a 9-channel inpainting model.
    pub image_cond: Option<&'a Array4<f32>>,
    /// Timestep samplers blend the UNet input with the init latent (`mask_before_denoising`):
    /// (init_latent, mask, nmask).
    pub blend_input: Option<(&'a Array4<f32>, &'a Array4<f32>, &'a Array4<f32>)>,
}

/// Build the UNet requests of one evaluation at `x` (k-diffusion scale) and `step` (the WebUI's
/// denoiser-call counter for prompt schedules).
pub fn requests(
    conds: &BatchConds,
    step: usize,
    x: &Latents,
    input: ModelInput,
    extras: &ModelExtras<'_>,
) -> Result<(Vec<UnetRequest>, RowLayout), PipelineError> {
    let batch = x.shape()[0];
    if conds.cond.len() != batch || conds.uncond.len() != batch {
        return Err(PipelineError::Internal(format!(
            "{} conditionings for a batch of {batch}",
            conds.cond.len()
        )));
    }
    let pick = |sched: &[ScheduledCond]| -> Result<Arc<Array2<f32>>, PipelineError> {
        reconstruct_cond(sched, step)
            .cloned()
            .ok_or_else(|| PipelineError::Internal("empty prompt schedule".into()))
    };
    let mut cond_rows: Vec<Arc<Array2<f32>>> = Vec::new();
    let mut parts = Vec::with_capacity(batch);
    let mut x_rows: Vec<usize> = Vec::new();
    for (i, subprompts) in conds.cond.iter().enumerate() {
        let mut mine = Vec::with_capacity(subprompts.len());
        for p in subprompts {
            mine.push((cond_rows.len(), p.weight));
            cond_rows.push(pick(&p.schedules)?);
            x_rows.push(i);
        }
        parts.push(mine);
    }
    let unconds: Vec<Arc<Array2<f32>>> = conds.uncond.iter().map(|u| pick(u)).collect::<Result<_, _>>()?;
    let prompt = |e: crate::prompt::PromptError| PipelineError::Prompt(e.to_string());
    let cond_ctx = stack_conds(&cond_rows.iter().map(|c| c.as_ref()).collect::<Vec<_>>()).map_err(prompt)?;
    let uncond_ctx = stack_conds(&unconds.iter().map(|c| c.as_ref()).collect::<Vec<_>>()).map_err(prompt)?;

    // The UNet input: c_in·x (blended for timestep samplers), plus the inpainting channels.
    let mut scaled = x * input.c_in;
    if let Some((init, mask, nmask)) = extras.blend_input {
        scaled = &scaled * nmask + &(init * mask);
    }
    let rows_of = |idx: &[usize]| -> Result<Array4<f32>, PipelineError> {
        let views: Vec<_> = idx.iter().map(|&i| scaled.slice(s![i..i + 1, .., .., ..])).collect();
        let mut sample = concatenate(Axis(0), &views).map_err(|e| PipelineError::Internal(e.to_string()))?;
        if let Some(ic) = extras.image_cond {
            let ic_views: Vec<_> = idx.iter().map(|&i| ic.slice(s![i..i + 1, .., .., ..])).collect();
            let ic_rows = concatenate(Axis(0), &ic_views).map_err(|e| PipelineError::Internal(e.to_string()))?;
            sample = concatenate(Axis(1), &[sample.view(), ic_rows.view()])
                .map_err(|e| PipelineError::Internal(e.to_string()))?;
        }
        Ok(sample)
    };
    let uncond_idx: Vec<usize> = (0..batch).collect();
    let t = input.timestep as f32;
    let n_cond = cond_rows.len();
    let split = cond_ctx.shape()[1] != uncond_ctx.shape()[1];
    let reqs = if split {
        vec![
            UnetRequest {
                sample: rows_of(&x_rows)?,
                timesteps: vec![t; n_cond],
                context: cond_ctx,
            },
            UnetRequest {
                sample: rows_of(&uncond_idx)?,
                timesteps: vec![t; batch],
                context: uncond_ctx,
            },
        ]
    } else {
        let all: Vec<usize> = x_rows.iter().copied().chain(uncond_idx).collect();
        let context: Array3<f32> = concatenate(Axis(0), &[cond_ctx.view(), uncond_ctx.view()])
            .map_err(|e| PipelineError::Internal(e.to_string()))?;
        vec![UnetRequest {
            sample: rows_of(&all)?,
            timesteps: vec![t; n_cond + batch],
            context,
        }]
    };
    Ok((
        reqs,
        RowLayout {
            parts,
            n_cond,
            batch,
            split,
        },
    ))
}

/// Combine the UNet outputs into D(x, σ) as `combine_denoised`: uncond + Σ w·cfg·(cond − uncond),
/// on denoised values. Returns (denoised, unconditional denoised).
pub fn combine(
    outs: Vec<Array4<f32>>,
    layout: &RowLayout,
    x: &Latents,
    scalings: OutputScalings,
    cfg_scale: f64,
) -> Result<(Latents, Latents), PipelineError> {
    let out = if layout.split {
        let views: Vec<_> = outs.iter().map(|o| o.view()).collect();
        concatenate(Axis(0), &views).map_err(|e| PipelineError::Internal(e.to_string()))?
    } else {
        outs.into_iter()
            .next()
            .ok_or_else(|| PipelineError::Internal("no UNet output".into()))?
    };
    let rows = layout.n_cond + layout.batch;
    if out.shape()[0] != rows || out.shape()[1..] != x.shape()[1..] {
        return Err(PipelineError::Internal(format!(
            "UNet output {:?} does not fit {rows} rows of {:?}",
            out.shape(),
            &x.shape()[1..]
        )));
    }
    // D per row: c_skip·x_row + c_out·out_row.
    let denoise_row = |r: usize, image: usize| {
        let mut d = out.index_axis(Axis(0), r).to_owned() * scalings.c_out;
        d.scaled_add(scalings.c_skip, &x.index_axis(Axis(0), image));
        d
    };
    let mut uncond = x.clone();
    for i in 0..layout.batch {
        uncond
            .index_axis_mut(Axis(0), i)
            .assign(&denoise_row(layout.n_cond + i, i));
    }
    let mut denoised = uncond.clone();
    for (i, parts) in layout.parts.iter().enumerate() {
        let u = uncond.index_axis(Axis(0), i).to_owned();
        let mut acc = denoised.index_axis_mut(Axis(0), i);
        for &(row, weight) in parts {
            let c = denoise_row(row, i);
            acc.scaled_add((weight * cfg_scale) as f32, &(c - &u));
        }
    }
    Ok((denoised, uncond))
}
