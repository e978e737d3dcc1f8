//! Brownian-tree noise for the SDE samplers: k-diffusion's `BrownianTreeNoiseSampler` (one torchsde
//! `BrownianTree` per image seed, as the WebUI's `create_noise_sampler` builds it) reproduced exactly.
//!
//! torchsde's `BrownianInterval(halfway_tree=True, tol=1e-6, pool_size=24)` is a dyadic tree over
//! `[t0, t1]`: node times are rounded with Python's `round(x, 6)`, a node splits at the rounded
//! midpoint, and a query `[ta, tb]` is the sum of the increments `W` of the maximal tree nodes that
//! tile it. The root's `W` is `randn(seed₀) · sqrt(t1 - t0)`; a child's `W` is the Brownian bridge from
//! its parent's, `mean ± sqrt(var) · randn(parent seed)`, with every seed drawn from NumPy's
//! `SeedSequence(entropy, spawn_key=(key, depth))`. Which nodes exist is fixed by the entropy and the
//! rounded query times alone, so the cache torchsde keeps only saves work; this one keeps the same
//! number of node increments (45).
//!
//! The normals come from the WebUI's replacement of torchsde's `_randn` (`randn_local`): a fresh
//! generator of the chosen source per node seed, drawing one image's shape. Float32 steps follow torch
//! (Python-float scalars rounded to float32, one operation at a time), so results are bit-exact where
//! the normals are.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use ndarray::{Array4, Axis};

use super::generator::RandnSettings;
use super::parallel::default_threads;
use super::pyround::round6;
use super::seed_sequence::SeedSequence;
use super::{RngError, element_count};
use crate::samplers::{Latents, SdeNoise};

/// torchsde's `BrownianTree` defaults as k-diffusion uses them.
const POOL_SIZE: usize = 24;
/// Node increments kept per tree (torchsde keeps 45; values never depend on it). About 100 keeps the
/// spine of the previous queries, so a sampler's run computes each node about once (≈1,700 nodes for
/// 30 steps of DPM++ SDE) instead of ≈2,900 with 45: each node costs one normal tensor of an image's
/// size. Fewer are kept for big latents, to stay within `CACHE_BYTES` per tree.
const CACHE_NODES: usize = 100;
const CACHE_NODES_MIN: usize = 8;
const CACHE_BYTES: usize = 32 << 20;
/// Deeper than any tree over a range of doubles rounded to 1e-6 can go (spawn keys stay in a u128).
const MAX_DEPTH: u32 = 120;

/// The `transform` of `BrownianTreeNoiseSampler` (sigma → tree time). The WebUI passes none
/// (identity); `NegLog` is `t = -ln σ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigmaTransform {
    #[default]
    Identity,
    NegLog,
}

impl SigmaTransform {
    fn apply(self, sigma: f32) -> f32 {
        match self {
            Self::Identity => sigma,
            Self::NegLog => -sigma.ln(),
        }
    }
}

/// `BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=[per-image seeds])`.
#[derive(Debug, Clone)]
pub struct BrownianTreeNoise {
    trees: Vec<Tree>,
    shape: [usize; 3],
    transform: SigmaTransform,
    /// `BatchedBrownianTree.sign`: -1 when the transform reverses the order of sigma_min and sigma_max.
    sign: f32,
    randn: RandnSettings,
    /// Threads for one query (trees in parallel, then node fills); results do not depend on it.
    threads: usize,
}

impl BrownianTreeNoise {
    /// One tree per seed over `[transform(sigma_min), transform(sigma_max)]`; `shape` is one image's
    /// latent shape `[channels, height, width]`.
    pub fn new(
        randn: RandnSettings,
        seeds: &[u64],
        shape: [usize; 3],
        sigma_min: f32,
        sigma_max: f32,
        transform: SigmaTransform,
    ) -> Result<Self, RngError> {
        if seeds.is_empty() {
            return Err(RngError::NoSeeds);
        }
        if shape.contains(&0) {
            return Err(RngError::EmptyShape(shape.to_vec()));
        }
        element_count(&[seeds.len(), shape[0], shape[1], shape[2]])?;
        let invalid = |why| RngError::InvalidSigmas {
            min: sigma_min,
            max: sigma_max,
            why,
        };
        let (a, b) = (transform.apply(sigma_min), transform.apply(sigma_max));
        if !a.is_finite() || !b.is_finite() {
            return Err(invalid("not finite (after the transform)"));
        }
        let (t0, t1, sign) = if a < b { (a, b, 1.0) } else { (b, a, -1.0) };
        let n = shape.iter().product();
        let trees = seeds
            .iter()
            .map(|&s| Tree::new(randn, s, f64::from(t0), f64::from(t1), n))
            .collect();
        Ok(Self {
            trees,
            shape,
            transform,
            sign,
            randn,
            threads: default_threads(),
        })
    }

    /// What the WebUI's `create_noise_sampler` does with a schedule: `sigma_min` is the smallest
    /// positive sigma, `sigma_max` the largest; identity transform.
    pub fn from_sigmas(
        randn: RandnSettings,
        seeds: &[u64],
        shape: [usize; 3],
        sigmas: &[f32],
    ) -> Result<Self, RngError> {
        let min = sigmas
            .iter()
            .copied()
            .filter(|&s| s > 0.0)
            .fold(f32::INFINITY, f32::min);
        let max = sigmas.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !min.is_finite() || !max.is_finite() {
            return Err(RngError::InvalidSigmas {
                min,
                max,
                why: "the schedule needs a finite positive sigma",
            });
        }
        Self::new(randn, seeds, shape, min, max, SigmaTransform::Identity)
    }

    pub fn settings(&self) -> RandnSettings {
        self.randn
    }

    /// Use up to `threads` threads per query (default: [`default_threads`]).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// `noise_sampler(sigma, sigma_next)`: `W(t, t_next) / sqrt(|t_next - t|)` per image, shape
    /// `[batch, c, h, w]`. Where torch would divide by zero (equal times) or recurse without end (times
    /// that round to the same 1e-6 step), this returns zeros.
    pub fn sample(&mut self, sigma: f32, sigma_next: f32) -> Latents {
        self.sample_with(sigma, sigma_next, None)
    }

    /// [`Self::sample`], optionally dividing by a given `sqrt(|t1 - t0|)` (tests use torch's value:
    /// its CPU `sqrt` is not always correctly rounded; CUDA's `sqrtf`, like this code, is).
    fn sample_with(&mut self, sigma: f32, sigma_next: f32, denominator: Option<f32>) -> Latents {
        let [c, h, w] = self.shape;
        let mut out = Array4::zeros((self.trees.len(), c, h, w));
        let t0 = self.transform.apply(sigma);
        let t1 = self.transform.apply(sigma_next);
        let denom = denominator.unwrap_or_else(|| (t1 - t0).abs().sqrt());
        if !(denom.is_finite() && denom > 0.0) {
            return out;
        }
        let (lo, hi, sign) = if t0 < t1 { (t0, t1, 1.0f32) } else { (t1, t0, -1.0) };
        let (lo, hi) = (f64::from(lo), f64::from(hi));
        let factor = self.sign * sign;
        let workers = self.threads.min(self.trees.len()).max(1);
        let fill_threads = (self.threads / workers).max(1);
        let increments: Vec<Option<Vec<f32>>> = if workers == 1 {
            self.trees
                .iter_mut()
                .map(|t| t.increment(lo, hi, fill_threads))
                .collect()
        } else {
            // Workers take trees from a shared queue; this thread works too, so a thread that cannot be
            // started only costs parallelism.
            let count = self.trees.len();
            let queue = Mutex::new(self.trees.iter_mut().enumerate());
            let results = Mutex::new(vec![None; count]);
            let work = || {
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((i, tree)) = next else { break };
                    let inc = tree.increment(lo, hi, fill_threads);
                    results.lock().unwrap_or_else(PoisonError::into_inner)[i] = inc;
                }
            };
            std::thread::scope(|scope| {
                for _ in 1..workers {
                    if let Err(e) = std::thread::Builder::new().spawn_scoped(scope, work) {
                        tracing::debug!("rng: could not start a Brownian-tree thread ({e})");
                        break;
                    }
                }
                work();
            });
            results.into_inner().unwrap_or_else(PoisonError::into_inner)
        };
        for (inc, mut dst) in increments.into_iter().zip(out.axis_iter_mut(Axis(0))) {
            if let Some(wv) = inc {
                for (d, v) in dst.iter_mut().zip(wv) {
                    *d = (v * factor) / denom;
                }
            }
        }
        out
    }
}

impl SdeNoise for BrownianTreeNoise {
    fn noise(&mut self, sigma: f32, sigma_next: f32) -> Latents {
        self.sample(sigma, sigma_next)
    }
}

/// A node of the dyadic tree: `[start, end]`, its depth and torchsde's spawn key (`2·parent + side`).
#[derive(Debug, Clone, Copy)]
struct Node {
    start: f64,
    end: f64,
    depth: u32,
    key: u128,
}

impl Node {
    fn id(&self) -> (u32, u128) {
        (self.depth, self.key)
    }
}

/// One `torchsde.BrownianTree`.
#[derive(Debug, Clone)]
struct Tree {
    randn: RandnSettings,
    entropy: u128,
    root: Node,
    root_w: Vec<f32>,
    cache: VecDeque<((u32, u128), Vec<f32>)>,
    cache_nodes: usize,
}

impl Tree {
    fn new(randn: RandnSettings, seed: u64, t0: f64, t1: f64, n: usize) -> Self {
        let entropy = u128::from(seed);
        let seed_w = SeedSequence::new(entropy, &[], POOL_SIZE).generate_state(1)[0];
        let scale = (t1 - t0).sqrt() as f32;
        let mut root_w = vec![0.0; n];
        randn.generator(u64::from(seed_w)).fill(&mut root_w);
        for v in &mut root_w {
            *v *= scale;
        }
        let root = Node {
            start: round6(t0),
            end: round6(t1),
            depth: 0,
            key: 0,
        };
        let cache_nodes = (CACHE_BYTES / (4 * n.max(1))).clamp(CACHE_NODES_MIN, CACHE_NODES);
        Self {
            randn,
            entropy,
            root,
            root_w,
            cache: VecDeque::with_capacity(cache_nodes),
            cache_nodes,
        }
    }

    /// `BrownianInterval(ta, tb)` for `ta <= tb`, or `None` for a zero increment.
    fn increment(&mut self, ta: f64, tb: f64, threads: usize) -> Option<Vec<f32>> {
        if !(ta.is_finite() && tb.is_finite()) {
            return None;
        }
        let (start, end) = (self.root.start, self.root.end);
        let ta = if ta < start {
            start
        } else if ta > end {
            end
        } else {
            ta
        };
        let tb = if tb < start {
            start
        } else if tb > end {
            end
        } else {
            tb
        };
        if ta >= tb {
            return None;
        }
        let (ta, tb) = (round6(ta), round6(tb));
        if ta >= tb {
            return None;
        }
        let mut paths = Vec::new();
        decompose(self.root, ta, tb, &mut Vec::new(), &mut paths).ok()?;
        let mut total: Option<Vec<f32>> = None;
        for path in &paths {
            let w = self.node_w(path, threads);
            total = Some(match total {
                None => w,
                Some(mut acc) => {
                    for (a, b) in acc.iter_mut().zip(&w) {
                        *a += *b;
                    }
                    acc
                }
            });
        }
        total
    }

    /// The increment over the last node of `path` (root first), from the nearest known ancestor down.
    fn node_w(&mut self, path: &[Node], threads: usize) -> Vec<f32> {
        let mut from = 0;
        let mut w = None;
        for i in (1..path.len()).rev() {
            if let Some(v) = self.cached(path[i].id()) {
                from = i;
                w = Some(v);
                break;
            }
        }
        let mut w = w.unwrap_or_else(|| self.root_w.clone());
        for pair in path[from..].windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            w = self.child_w(&w, parent, child.start == parent.start, threads);
            self.remember(child.id(), &w);
        }
        w
    }

    /// torchsde `_Interval._increment_and_space_time_levy_area` without space-time Lévy area.
    fn child_w(&self, parent_w: &[f32], parent: Node, is_left: bool, threads: usize) -> Vec<f32> {
        let seed =
            SeedSequence::new(self.entropy, &[parent.key, u128::from(parent.depth)], POOL_SIZE).generate_state(1)[0];
        let mut noise = vec![0.0; parent_w.len()];
        self.randn.generator(u64::from(seed)).fill_threads(&mut noise, threads);
        let midway = round6(0.5 * (parent.end + parent.start));
        let h_reciprocal = 1.0 / (parent.end - parent.start);
        let left_diff = midway - parent.start;
        let right_diff = parent.end - midway;
        // `left_diff * W * h_reciprocal`: each Python float becomes a float32 scalar.
        let (ld, hr) = (left_diff as f32, h_reciprocal as f32);
        let std = (left_diff * right_diff * h_reciprocal).sqrt() as f32;
        parent_w
            .iter()
            .zip(&noise)
            .map(|(&w, &z)| {
                let left_w = (ld * w) * hr + std * z;
                if is_left { left_w } else { w - left_w }
            })
            .collect()
    }

    fn cached(&mut self, id: (u32, u128)) -> Option<Vec<f32>> {
        let pos = self.cache.iter().position(|(k, _)| *k == id)?;
        let entry = self.cache.remove(pos)?;
        let w = entry.1.clone();
        self.cache.push_back(entry);
        Some(w)
    }

    fn remember(&mut self, id: (u32, u128), w: &[f32]) {
        if self.cache.len() >= self.cache_nodes {
            self.cache.pop_front();
        }
        self.cache.push_back((id, w.to_vec()));
    }
}

/// The maximal dyadic nodes tiling `[ta, tb]` (rounded times inside `node`), left to right, each as
/// its path from the root. `Err` where torchsde would recurse without end.
fn decompose(node: Node, ta: f64, tb: f64, path: &mut Vec<Node>, out: &mut Vec<Vec<Node>>) -> Result<(), ()> {
    path.push(node);
    let result = decompose_inner(node, ta, tb, path, out);
    path.pop();
    result
}

fn decompose_inner(node: Node, ta: f64, tb: f64, path: &mut Vec<Node>, out: &mut Vec<Vec<Node>>) -> Result<(), ()> {
    if ta == node.start && tb == node.end {
        out.push(path.clone());
        return Ok(());
    }
    let midway = round6(0.5 * (node.end + node.start));
    if node.depth >= MAX_DEPTH || !(node.start < midway && midway < node.end) {
        return Err(());
    }
    let left = Node {
        start: node.start,
        end: midway,
        depth: node.depth + 1,
        key: node.key << 1,
    };
    let right = Node {
        start: midway,
        end: node.end,
        depth: node.depth + 1,
        key: (node.key << 1) | 1,
    };
    if tb <= midway {
        decompose(left, ta, tb, path, out)
    } else if ta >= midway {
        decompose(right, ta, tb, path, out)
    } else {
        decompose(left, ta, midway, path, out)?;
        decompose(right, midway, tb, path, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::{Encoded, load};
    use crate::rng::{CpuKernel, RngSource};
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        seeds: Vec<u64>,
        shape: [usize; 3],
        sigma_min: f32,
        sigma_max: f32,
        transform: String,
        queries: Vec<(f32, f32)>,
        denominators: Vec<f32>,
        sources: BTreeMap<String, Vec<Encoded>>,
    }

    #[derive(Deserialize)]
    struct File {
        cases: Vec<Case>,
    }

    #[test]
    fn matches_k_diffusion_and_torchsde() {
        let file: File = load("brownian.json");
        let (mut checked, mut other_sqrt) = (0, 0);
        for case in &file.cases {
            let transform = match case.transform.as_str() {
                "neg_log" => SigmaTransform::NegLog,
                _ => SigmaTransform::Identity,
            };
            for (source, outputs) in &case.sources {
                let randn = RandnSettings {
                    cpu_kernel: CpuKernel::Avx2,
                    ..RandnSettings::new(source.parse::<RngSource>().expect("source"))
                };
                let mut ns = BrownianTreeNoise::new(
                    randn,
                    &case.seeds,
                    case.shape,
                    case.sigma_min,
                    case.sigma_max,
                    transform,
                )
                .expect("valid case");
                for (k, (((a, b), want), &den)) in case.queries.iter().zip(outputs).zip(&case.denominators).enumerate()
                {
                    let mut other = ns.clone();
                    let got: Vec<f32> = ns.sample_with(*a, *b, Some(den)).iter().copied().collect();
                    let diff = want.compare(&got);
                    assert!(diff.exact, "{} {source} query #{k} ({a}, {b}): {diff:?}", case.name);
                    // With our (correctly rounded) sqrt: the same up to torch's sqrt rounding.
                    let ours: Vec<f32> = other.noise(*a, *b).iter().copied().collect();
                    let diff = want.compare(&ours);
                    assert!(diff.max_abs < 1e-6, "{} {source} query #{k}: {diff:?}", case.name);
                    other_sqrt += usize::from(!diff.exact);
                    checked += 1;
                }
            }
        }
        assert!(checked > 150, "{checked}");
        // torch's CPU sqrt differs from the correctly rounded one on a fraction of the queries only.
        assert!(other_sqrt * 3 < checked, "{other_sqrt} of {checked}");
    }

    #[test]
    fn same_answers_in_any_query_order() {
        let randn = RandnSettings::new(RngSource::Nv);
        let pairs = [(14.6, 10.0), (0.5, 0.03), (3.0, 2.9), (14.6, 0.0292), (7.0, 6.99)];
        let mut a = BrownianTreeNoise::new(randn, &[5, 6, 7], [4, 2, 2], 0.0292, 14.6, SigmaTransform::Identity)
            .expect("valid")
            .with_threads(1);
        // Another query order, and the three trees on threads of their own.
        let mut b = a.clone().with_threads(3);
        let forward: Vec<_> = pairs.iter().map(|&(s, t)| a.noise(s, t)).collect();
        for (i, &(s, t)) in pairs.iter().enumerate().rev() {
            assert_eq!(b.noise(s, t), forward[i]);
        }
    }

    #[test]
    fn degenerate_queries_give_zeros() {
        let randn = RandnSettings::new(RngSource::Cpu);
        let mut ns =
            BrownianTreeNoise::new(randn, &[1], [4, 2, 2], 0.0292, 14.6, SigmaTransform::Identity).expect("valid");
        for (s, t) in [
            (1.0, 1.0),
            (1.0, 0.9999995),
            (f32::NAN, 1.0),
            (2.0, f32::INFINITY),
            (20.0, 30.0),
        ] {
            let out = ns.noise(s, t);
            assert!(out.iter().all(|&v| v == 0.0), "({s}, {t}): {out:?}");
        }
        assert!(ns.noise(2.0, 1.0).iter().any(|&v| v != 0.0));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let randn = RandnSettings::default();
        assert!(BrownianTreeNoise::new(randn, &[], [4, 8, 8], 0.1, 10.0, SigmaTransform::Identity).is_err());
        assert!(BrownianTreeNoise::new(randn, &[1], [4, 0, 8], 0.1, 10.0, SigmaTransform::Identity).is_err());
        assert!(BrownianTreeNoise::new(randn, &[1], [4, 8, 8], f32::NAN, 10.0, SigmaTransform::Identity).is_err());
        assert!(BrownianTreeNoise::new(randn, &[1], [4, 8, 8], 0.0, 10.0, SigmaTransform::NegLog).is_err());
        assert!(BrownianTreeNoise::from_sigmas(randn, &[1], [4, 8, 8], &[0.0, 0.0]).is_err());
        let ok = BrownianTreeNoise::from_sigmas(randn, &[1, 2], [4, 8, 8], &[14.6, 3.0, 0.03, 0.0]).expect("valid");
        assert_eq!(ok.trees.len(), 2);
    }
}
