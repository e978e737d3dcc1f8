//! Execution providers: which one a device worker asks for, and the fallback it may take.
//!
//! Providers are registered with `error_on_failure`, so ONNX Runtime never silently falls back to
//! the CPU; a fallback happens only when the operator asked for one, and it is logged.

use std::path::PathBuf;

use ort::ep::{self, ExecutionProviderDispatch};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Cpu,
    Cuda,
    Tensorrt,
}

impl ProviderKind {
    /// The next provider to try when this one cannot start and a fallback was asked for.
    pub fn fallback(self) -> Option<ProviderKind> {
        match self {
            ProviderKind::Tensorrt => Some(ProviderKind::Cuda),
            ProviderKind::Cuda => Some(ProviderKind::Cpu),
            ProviderKind::Cpu => None,
        }
    }

    pub fn is_gpu(self) -> bool {
        self != ProviderKind::Cpu
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProviderKind::Cpu => "cpu",
            ProviderKind::Cuda => "cuda",
            ProviderKind::Tensorrt => "tensorrt",
        })
    }
}

/// TensorRT settings (engines are built during warm-up and cached on a volume).
#[derive(Debug, Clone, Default)]
pub struct TensorRtOptions {
    pub fp16: bool,
    /// Engine and timing caches; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    pub max_workspace_bytes: Option<usize>,
    /// Optimisation profiles as ONNX Runtime spells them, e.g. "sample:2x4x64x64,timestep:2,...".
    pub profile_min_shapes: Option<String>,
    pub profile_opt_shapes: Option<String>,
    pub profile_max_shapes: Option<String>,
}

/// Everything a device worker needs to create its sessions.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    pub kind: ProviderKind,
    pub device_id: i32,
    /// Allow falling back along TensorRT → CUDA → CPU when a provider cannot start.
    pub fallback: bool,
    /// Run the UNet through IoBinding with device-resident buffers per shape bucket.
    pub io_binding: bool,
    /// Capture one CUDA graph per UNet shape bucket (needs `io_binding`; CUDA only).
    pub cuda_graph: bool,
    /// Shape buckets that get a CUDA graph.
    pub max_cuda_graphs: usize,
    pub tensorrt: TensorRtOptions,
    /// Intra-op threads for CPU work (0 = ONNX Runtime's default).
    pub intra_threads: usize,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            kind: ProviderKind::Cpu,
            device_id: 0,
            fallback: false,
            io_binding: false,
            cuda_graph: false,
            max_cuda_graphs: 16,
            tensorrt: TensorRtOptions::default(),
            intra_threads: 0,
        }
    }
}

impl ProviderOptions {
    /// The dispatch list for one provider kind (CPU needs none: it is always there).
    pub fn dispatches(&self, kind: ProviderKind) -> Vec<ExecutionProviderDispatch> {
        match kind {
            ProviderKind::Cpu => vec![],
            ProviderKind::Cuda => vec![self.cuda().build().error_on_failure()],
            ProviderKind::Tensorrt => {
                let t = &self.tensorrt;
                let mut trt = ep::TensorRT::default().with_device_id(self.device_id).with_fp16(t.fp16);
                if let Some(dir) = &t.cache_dir {
                    let dir = dir.display().to_string();
                    trt = trt
                        .with_engine_cache(true)
                        .with_engine_cache_path(&dir)
                        .with_timing_cache(true)
                        .with_timing_cache_path(&dir);
                }
                if let Some(ws) = t.max_workspace_bytes {
                    trt = trt.with_max_workspace_size(ws);
                }
                if let (Some(min), Some(opt), Some(max)) =
                    (&t.profile_min_shapes, &t.profile_opt_shapes, &t.profile_max_shapes)
                {
                    trt = trt
                        .with_profile_min_shapes(min)
                        .with_profile_opt_shapes(opt)
                        .with_profile_max_shapes(max);
                }
                // TensorRT hands the nodes it cannot take to CUDA within the same session.
                vec![trt.build().error_on_failure(), self.cuda().build().error_on_failure()]
            }
        }
    }

    fn cuda(&self) -> ep::CUDA {
        ep::CUDA::default()
            .with_device_id(self.device_id)
            .with_arena_extend_strategy(ep::ArenaExtendStrategy::SameAsRequested)
            .with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Exhaustive)
            .with_cuda_graph(self.cuda_graph)
            // fp32 graphs are for exactness (fp16 graphs are the fast path): no TF32 rounding.
            .with_tf32(false)
    }
}
