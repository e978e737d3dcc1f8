//! Part 1: one UNet step by CFG batch size, through `Engine::unet` (the call a device worker makes).

use std::time::{Duration, Instant};

use ndarray::{Array3, Array4};

use super::report::{UnetRow, UnetSteps};
use super::stats::{Summary, ms, timed_loop};
use super::{BenchArgs, BenchError};
use crate::runtime::Engine;
use crate::runtime::graph::graph_times;

const UNET_SLOT: usize = 1;

/// Deterministic values in [-1, 1) (the values do not change the timing).
fn pattern(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub struct Shape {
    pub channels: usize,
    pub latent: (usize, usize),
    pub context_len: usize,
    pub hidden: usize,
}

/// Time `args.unet_rows` batch sizes; `on_row` sees each result as it comes (for progress lines).
pub fn run(
    engine: &mut Engine,
    args: &BenchArgs,
    shape: &Shape,
    mut on_row: impl FnMut(&UnetRow),
) -> Result<UnetSteps, BenchError> {
    let budget = args.budget_secs.map(Duration::from_secs_f64);
    let (h, w) = shape.latent;
    let mut rows_out = Vec::new();
    for &rows in &args.unet_rows {
        let sample = Array4::from_shape_vec((rows, shape.channels, h, w), pattern(rows * shape.channels * h * w, 1))
            .map_err(|e| BenchError::Invalid(e.to_string()))?;
        let context = Array3::from_shape_vec(
            (rows, shape.context_len, shape.hidden),
            pattern(rows * shape.context_len * shape.hidden, 2),
        )
        .map_err(|e| BenchError::Invalid(e.to_string()))?;
        // One timestep per row, spread over the schedule as a batch of jobs at different steps would be.
        let timesteps: Vec<f32> = (0..rows).map(|i| 999.0 - (i as f32 * 37.5) % 999.0).collect();
        let loaded = Instant::now();
        let samples = timed_loop(args.unet_warmup, args.unet_iters, budget, || {
            let (s, t, c) = (sample.clone(), timesteps.clone(), context.clone());
            let before = graph_times()[UNET_SLOT];
            let started = Instant::now();
            let out = engine.unet(s, t, c)?;
            let total = started.elapsed();
            let ort = graph_times()[UNET_SLOT].since(before);
            if out.shape()[0] != rows {
                return Err(BenchError::Invalid(format!(
                    "the UNet returned {} rows for {rows}",
                    out.shape()[0]
                )));
            }
            Ok((ms(total), ort.ort_ns as f64 / 1e6))
        })?;
        let wall = loaded.elapsed().as_secs_f64();
        let total: Vec<f64> = samples.iter().map(|s| s.0).collect();
        let ort: Vec<f64> = samples.iter().map(|s| s.1).collect();
        let (Some(ms_sum), Some(ort_sum)) = (Summary::of(&total), Summary::of(&ort)) else {
            return Err(BenchError::Invalid("no UNet timing".into()));
        };
        let images = rows.div_ceil(2);
        let secs = ms_sum.median / 1e3;
        let row = UnetRow {
            rows,
            images,
            iters: samples.len(),
            ms: ms_sum,
            ort_ms: ort_sum,
            steps_per_s: 1.0 / secs,
            image_steps_per_s: images as f64 / secs,
            tflops: args.unet_tflop_per_row.map(|t| t * rows as f64 / secs),
            wall_s: wall,
        };
        on_row(&row);
        rows_out.push(row);
    }
    Ok(UnetSteps {
        channels: shape.channels,
        latent: [h, w],
        context_len: shape.context_len,
        hidden: shape.hidden,
        warmup: args.unet_warmup,
        iters: args.unet_iters,
        tflop_per_row: args.unet_tflop_per_row,
        timed: "Engine::unet: f32 inputs in, f32 output out (fp16 graphs: conversion both ways); \
                ort_ms: inside Session::run only"
            .into(),
        rows: rows_out,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pattern_is_bounded_and_deterministic() {
        let a = super::pattern(1000, 3);
        assert_eq!(a, super::pattern(1000, 3));
        assert!(a.iter().all(|x| (-1.0..1.0).contains(x)));
        assert_ne!(a, super::pattern(1000, 4));
    }
}
