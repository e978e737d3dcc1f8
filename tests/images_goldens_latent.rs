//! torch interpolate / tensor conversion goldens (scripts/goldens/images_latent.py).

use std::path::{Path, PathBuf};

use ndarray::Array4;
use sdgate::images::{self, LatentResize};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/latent")
}

fn read_f32(name: &str) -> Vec<f32> {
    std::fs::read(dir().join(name))
        .expect("fixture")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn shape4(v: &serde_json::Value) -> (usize, usize, usize, usize) {
    let s: Vec<usize> = v
        .as_array()
        .expect("shape")
        .iter()
        .map(|x| x.as_u64().expect("n") as usize)
        .collect();
    (s[0], s[1], s[2], s[3])
}

#[test]
fn interpolate_matches_torch() {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).expect("manifest")).expect("json");
    let (n, c, h, w) = shape4(&m["input_shape"]);
    let x = Array4::from_shape_vec((n, c, h, w), read_f32("input.f32")).expect("shape");
    let mut report = Vec::new();
    for case in m["cases"].as_array().expect("cases") {
        let name = case["mode"].as_str().expect("mode");
        let mode = LatentResize::from_name(name).expect("known mode");
        let size = case["size"].as_array().expect("size");
        let (oh, ow) = (
            size[0].as_u64().expect("h") as usize,
            size[1].as_u64().expect("w") as usize,
        );
        let got = images::resize_latent(x.view(), oh, ow, mode).expect("resize");
        let want = read_f32(case["output"].as_str().expect("output"));
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-5, "{name} {oh}x{ow}: max abs err {err}");
        report.push(format!("{name} {oh}x{ow}: {err:.1e}"));
    }
    println!("{}", report.join("\n"));
}

#[test]
fn vae_output_to_u8_matches_webui() {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).expect("manifest")).expect("json");
    let (n, c, h, w) = shape4(&m["vae_shape"]);
    let v = Array4::from_shape_vec((n, c, h, w), read_f32("vae_out.f32")).expect("shape");
    let imgs = images::tensor_to_images(v.view()).expect("images");
    let want = std::fs::read(dir().join("vae_out_u8.bin")).expect("u8");
    assert_eq!(imgs[0].as_raw(), &want);
}
