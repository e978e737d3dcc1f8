//! Helpers shared by the integration tests: model fixtures and tensors (here), and for the HTTP
//! tests a fake backend (deterministic small PNGs, honours interrupt, skip and progress),
//! temporary model folders and a live-server harness (fake.rs).
#![allow(dead_code)]

pub mod fake;
pub mod pool;
pub mod process;
#[allow(unused_imports)]
pub use fake::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;

/// The repository (SDGATE_REPO overrides the build-time path, for test binaries run elsewhere,
/// e.g. on the GPU machine).
pub fn repo() -> PathBuf {
    std::env::var_os("SDGATE_REPO").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The provider the tests run on: CPU, or CUDA with SDGATE_TEST_PROVIDER=cuda (GPU machine).
pub fn test_provider() -> sdgate::runtime::ProviderOptions {
    use sdgate::runtime::{ProviderKind, ProviderOptions};
    match std::env::var("SDGATE_TEST_PROVIDER").as_deref() {
        Ok("cuda") => ProviderOptions {
            kind: ProviderKind::Cuda,
            io_binding: true,
            cuda_graph: std::env::var("SDGATE_TEST_CUDA_GRAPH").is_ok_and(|v| v == "1"),
            ..ProviderOptions::default()
        },
        _ => ProviderOptions::default(),
    }
}

pub fn tiny_model_dir() -> PathBuf {
    repo().join("tests/fixtures/tiny-sd1/model")
}

/// Load ONNX Runtime from the README's set-up location (scripts/setup-ort), or ORT_DYLIB_PATH.
pub fn load_ort() {
    sdgate::runtime::library::load(None).expect("ONNX Runtime: run scripts/setup-ort first");
}

pub enum Tensor {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

/// Every tensor of a safetensors file (f32, f16 and i64; f16 is widened to f32, which is exact).
pub fn load_safetensors(path: &Path) -> HashMap<String, Tensor> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let data = view.data();
        let t = match view.dtype() {
            safetensors::Dtype::F32 => Tensor::F32(
                ArrayD::from_shape_vec(
                    shape,
                    data.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
                .unwrap(),
            ),
            safetensors::Dtype::F16 => Tensor::F32(
                ArrayD::from_shape_vec(
                    shape,
                    data.chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect(),
                )
                .unwrap(),
            ),
            safetensors::Dtype::I64 => Tensor::I64(
                ArrayD::from_shape_vec(
                    shape,
                    data.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                )
                .unwrap(),
            ),
            other => panic!("{name}: unsupported dtype {other:?}"),
        };
        out.insert(name.to_string(), t);
    }
    out
}

pub fn f32_tensor(map: &HashMap<String, Tensor>, name: &str) -> ArrayD<f32> {
    match map.get(name) {
        Some(Tensor::F32(a)) => a.clone(),
        _ => panic!("no f32 tensor {name}"),
    }
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Copy a folder tree (for tests that break a model folder).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}
