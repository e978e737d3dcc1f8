//! A bad model folder is refused with a message naming the problem; a GPU provider that cannot
//! start is an error unless a fallback was asked for.

mod common;

use common::*;
use sdgate::models::ModelFolder;
use sdgate::runtime::{Engine, ProviderKind, ProviderOptions, RuntimeError};

fn broken_copy(name: &str, edit: impl FnOnce(&std::path::Path)) -> tempfile::TempDir {
    let tmp = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    copy_dir(&tiny_model_dir(), tmp.path());
    edit(tmp.path());
    tmp
}

fn load(dir: &std::path::Path, opts: &ProviderOptions) -> Result<Engine, RuntimeError> {
    load_ort();
    let folder = ModelFolder::open(dir)?;
    Engine::load(folder, opts)
}

fn error_of(dir: &std::path::Path) -> String {
    match load(dir, &ProviderOptions::default()) {
        Ok(_) => panic!("{} loaded but should not", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_graph_is_named() {
    let d = broken_copy("missing", |p| std::fs::remove_file(p.join("unet/model.onnx")).unwrap());
    let msg = error_of(d.path());
    assert!(msg.contains("missing unet/model.onnx"), "{msg}");
}

#[test]
fn a_missing_manifest_is_named() {
    let d = broken_copy("nomanifest", |p| std::fs::remove_file(p.join("model.json")).unwrap());
    let msg = error_of(d.path());
    assert!(msg.contains("missing model.json"), "{msg}");
}

#[test]
fn a_wrong_manifest_is_named() {
    let d = broken_copy("badmanifest", |p| {
        let f = p.join("model.json");
        let text = std::fs::read_to_string(&f)
            .unwrap()
            .replace("\"vae_scale_factor\": 2", "\"vae_scale_factor\": 3");
        std::fs::write(f, text).unwrap();
    });
    let msg = error_of(d.path());
    assert!(msg.contains("vae_scale_factor 3"), "{msg}");

    let d = broken_copy("notjson", |p| {
        std::fs::write(p.join("model.json"), "{ not json").unwrap()
    });
    let msg = error_of(d.path());
    assert!(msg.contains("invalid model.json"), "{msg}");
}

#[test]
fn a_corrupt_graph_is_named() {
    let d = broken_copy("corrupt", |p| {
        let f = p.join("vae_decoder/model.onnx");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 3]).unwrap();
    });
    let msg = error_of(d.path());
    assert!(
        msg.contains("vae_decoder") && msg.contains("vae_decoder/model.onnx"),
        "{msg}"
    );
}

#[test]
fn a_graph_with_the_wrong_interface_is_named() {
    // The VAE decoder where the UNet should be: the contract check names the missing input.
    let d = broken_copy("swapped", |p| {
        std::fs::copy(p.join("vae_decoder/model.onnx"), p.join("unet/model.onnx")).unwrap();
    });
    let msg = error_of(d.path());
    assert!(msg.contains("unet/model.onnx: has no input \"sample\""), "{msg}");
    assert!(msg.contains("model-folder contract"), "{msg}");
}

#[test]
fn a_cuda_fused_graph_is_refused_on_the_cpu() {
    let d = broken_copy("fused", |p| {
        let f = p.join("model.json");
        let text = std::fs::read_to_string(&f).unwrap();
        let text = text.replacen("\"provider\": \"any\"", "\"provider\": \"cuda\"", 2);
        std::fs::write(f, text).unwrap();
    });
    let msg = error_of(d.path());
    assert!(msg.contains("built for the CUDA provider"), "{msg}");
}

fn cuda_opts(fallback: bool) -> ProviderOptions {
    ProviderOptions {
        kind: ProviderKind::Cuda,
        fallback,
        ..ProviderOptions::default()
    }
}

#[test]
fn a_gpu_provider_that_cannot_start_is_an_error_without_fallback() {
    // The CPU build of ONNX Runtime has no CUDA provider (on the GPU machine this test is skipped
    // by the provider being present; CI has no GPU).
    load_ort();
    let folder = ModelFolder::open(&tiny_model_dir()).unwrap();
    match Engine::load(folder.clone(), &cuda_opts(false)) {
        Err(RuntimeError::Provider {
            kind: ProviderKind::Cuda,
            message,
        }) => {
            println!("as expected: {message}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(e) => {
            // A machine with CUDA: the provider started, which is also correct.
            assert_eq!(e.provider, ProviderKind::Cuda);
        }
    }
    let e = Engine::load(folder.clone(), &cuda_opts(true)).unwrap();
    assert!(e.provider == ProviderKind::Cpu || e.provider == ProviderKind::Cuda);
    let trt = ProviderOptions {
        kind: ProviderKind::Tensorrt,
        fallback: true,
        ..ProviderOptions::default()
    };
    let e = Engine::load(folder, &trt).unwrap();
    assert_ne!(
        e.provider,
        ProviderKind::Tensorrt,
        "no TensorRT here: it must have fallen back"
    );
}
