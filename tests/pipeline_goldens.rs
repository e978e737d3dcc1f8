//! End-to-end goldens: sdgate's pipeline on the tiny model against diffusers (and k-diffusion with
//! the WebUI's CFG on denoised predictions), made by scripts/goldens/pipeline_goldens.py.
//! Requests go through the API's validation exactly as /sdapi/v1 receives them; the starting noise
//! is the WebUI's "NV" source for the request's seeds.

mod common;

use base64::Engine as _;
use common::pool::*;
use common::*;
use sdgate::api::options::EffectiveSettings;
use sdgate::api::requests::{Img2ImgRequest, Txt2ImgRequest};
use sdgate::api::validate::{self, GenerationLimits, ValidationContext};
use sdgate::models::{ModelRegistry, ModelSources};
use serde_json::Value;

/// Latents are large on the tiny random model (|x| up to ~70): the 1e-3 is absolute.
const TOL: f32 = 1e-3;

fn fixture(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures/pipeline").join(name)
}

fn b64(file: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(fixture(file)).unwrap())
}

#[test]
fn txt2img_img2img_and_inpainting_match_the_reference_latents() {
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(fixture("cases.json")).unwrap()).unwrap();
    let registry = ModelRegistry::new(ModelSources {
        folders: vec![tiny_model_dir()],
        ckpt_dir: None,
    })
    .unwrap();
    let limits = GenerationLimits::default();
    let ctx = ValidationContext {
        registry: &registry,
        settings: EffectiveSettings {
            clip_skip: 1,
            eta_noise_seed_delta: 0,
            randn_source: sdgate::rng::RngSource::Gpu,
        },
        preview_every: 0,
        limits: &limits,
    };
    let pool = start_pool(1, 8);
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut request = case["request"].clone();
        let mut job = if case["mode"] == "txt2img" {
            let req: Txt2ImgRequest = serde_json::from_value(request).unwrap();
            validate::txt2img(&req, &ctx).unwrap().job
        } else {
            request["init_images"] = Value::from(vec![b64(case["init_image_file"].as_str().unwrap())]);
            if let Some(m) = case.get("mask_file").and_then(Value::as_str) {
                request["mask"] = Value::from(b64(m));
            }
            let req: Img2ImgRequest = serde_json::from_value(request).unwrap();
            validate::img2img(&req, &ctx).unwrap().job
        };
        assert_eq!(
            job.seed.source,
            sdgate::rng::RngSource::Nv,
            "{name}: the goldens use the NV source"
        );
        job.output.return_latents = true;
        let out = run(&pool, job);
        let golden = load_safetensors(&fixture(case["file"].as_str().unwrap()));
        let want = f32_tensor(&golden, "latents");
        let want_k = golden
            .contains_key("latents_kdiffusion")
            .then(|| f32_tensor(&golden, "latents_kdiffusion"));
        for (i, img) in out.images.iter().enumerate() {
            let got = img.latents.as_ref().unwrap().clone().into_dyn();
            let want_i = want.index_axis(ndarray::Axis(0), i).to_owned().into_dyn();
            let err = max_abs_diff(&got, &want_i);
            println!("{name}[{i}]: max |latents − diffusers| = {err:e}");
            assert!(err <= TOL, "{name}[{i}]: {err} > {TOL}");
            if let Some(k) = &want_k {
                let err_k = max_abs_diff(&got, &k.index_axis(ndarray::Axis(0), i).to_owned().into_dyn());
                println!("{name}[{i}]: max |latents − k-diffusion (WebUI CFG)| = {err_k:e}");
                assert!(err_k <= TOL, "{name}[{i}] vs k-diffusion: {err_k} > {TOL}");
            }
        }
        // txt2img: the 8-bit image is the WebUI's truncation of the reference decoder output.
        if case["mode"] == "txt2img" {
            let image = f32_tensor(&golden, "image");
            for (i, img) in out.images.iter().enumerate() {
                let png = image::load_from_memory(&img.png).unwrap().to_rgb8();
                let mut worst = 0i32;
                for (x, y, p) in png.enumerate_pixels() {
                    for c in 0..3 {
                        let v = image[[i, c, y as usize, x as usize]];
                        let want = (255.0 * ((v + 1.0) / 2.0).clamp(0.0, 1.0)) as u8;
                        worst = worst.max((i32::from(p.0[c]) - i32::from(want)).abs());
                    }
                }
                println!("{name}[{i}]: max 8-bit difference {worst}");
                assert!(worst <= 1, "{name}[{i}]: 8-bit difference {worst}");
            }
        }
    }
}
