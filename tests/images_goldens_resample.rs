//! Pillow / WebUI resize_image goldens (scripts/goldens/images_resample.py).

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage};
use sdgate::images::{self, Filter, Limits, ResizeMode};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/resample")
}

fn load(name: &str) -> DynamicImage {
    let bytes = std::fs::read(dir().join(name)).expect("fixture");
    images::decode_bytes(&bytes, &Limits::default()).expect("decode").image
}

fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

fn filter(name: &str) -> Filter {
    match name {
        "bilinear" => Filter::Bilinear,
        "bicubic" => Filter::Bicubic,
        _ => Filter::Lanczos,
    }
}

#[test]
fn pillow_resize_and_webui_resize_image_are_exact() {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).expect("manifest")).expect("json");
    let cases = manifest["cases"].as_array().expect("cases");
    let mut worst = 0u8;
    for case in cases {
        let input = load(case["input"].as_str().expect("input"));
        let expected = load(case["output"].as_str().expect("output"));
        let size: Vec<u32> = case["size"]
            .as_array()
            .expect("size")
            .iter()
            .map(|v| v.as_u64().expect("u") as u32)
            .collect();
        let gray = matches!(input, DynamicImage::ImageLuma8(_));
        let got: Vec<u8> = match case["op"].as_str().expect("op") {
            "resize" => {
                let f = filter(case["filter"].as_str().expect("filter"));
                let bx = case["box"].as_array().map(|b| {
                    let v: Vec<f32> = b.iter().map(|x| x.as_f64().expect("f") as f32).collect();
                    [v[0], v[1], v[2], v[3]]
                });
                if gray {
                    let i = input.to_luma8();
                    let b = bx.unwrap_or([0.0, 0.0, i.width() as f32, i.height() as f32]);
                    images::resize_box(&i, size[0], size[1], f, b)
                        .expect("resize")
                        .into_raw()
                } else {
                    let i = input.to_rgb8();
                    let b = bx.unwrap_or([0.0, 0.0, i.width() as f32, i.height() as f32]);
                    images::resize_box(&i, size[0], size[1], f, b)
                        .expect("resize")
                        .into_raw()
                }
            }
            "lanczos_upscale" => images::upscale_lanczos_webui(&input.to_rgb8(), size[0], size[1])
                .expect("up")
                .into_raw(),
            _ => {
                let mode = ResizeMode::from_api(case["mode"].as_i64().expect("mode")).expect("mode");
                if gray {
                    images::fit(&input.to_luma8(), mode, size[0], size[1])
                        .expect("fit")
                        .into_raw()
                } else {
                    images::fit(&input.to_rgb8(), mode, size[0], size[1])
                        .expect("fit")
                        .into_raw()
                }
            }
        };
        let want = if gray {
            expected.to_luma8().into_raw()
        } else {
            expected.to_rgb8().into_raw()
        };
        let d = max_diff(&got, &want);
        assert!(d <= 1, "case {case}: max abs diff {d}");
        worst = worst.max(d);
    }
    println!("resample goldens: {} cases, max abs diff {worst} levels", cases.len());
    assert_eq!(worst, 0, "expected bit-exact Pillow resampling");
}

#[test]
fn decoding_matches_pillow() {
    let l = Limits::default();
    let read = |n: &str| std::fs::read(dir().join(n)).expect("fixture");
    let rgb = |n: &str| -> RgbImage { load(n).to_rgb8() };
    let lossless = images::decode_bytes(&read("dec_lossless.webp"), &l)
        .expect("webp")
        .to_rgb_flattened();
    assert_eq!(lossless.as_raw(), rgb("dec_lossless_pil.png").as_raw());
    let jpeg = images::decode_bytes(&read("dec_q90.jpg"), &l)
        .expect("jpeg")
        .to_rgb_flattened();
    let dj = max_diff(jpeg.as_raw(), rgb("dec_q90_pil.png").as_raw());
    let lossy = images::decode_bytes(&read("dec_lossy.webp"), &l)
        .expect("webp")
        .to_rgb_flattened();
    let dw = max_diff(lossy.as_raw(), rgb("dec_lossy_pil.png").as_raw());
    println!("decode vs Pillow: JPEG q90 max abs diff {dj}, lossy WebP max abs diff {dw}");
    assert!(dj <= 8 && dw <= 8, "jpeg {dj} webp {dw}");
    let rot = images::decode_bytes(&read("dec_orient6.jpg"), &l)
        .expect("jpeg")
        .to_rgb_flattened();
    let want = rgb("dec_orient6_pil.png");
    assert_eq!(rot.dimensions(), want.dimensions(), "EXIF orientation applied");
    assert!(max_diff(rot.as_raw(), want.as_raw()) <= 8);
    let flat = images::decode_bytes(&read("dec_rgba.png"), &l)
        .expect("png")
        .to_rgb_flattened();
    assert_eq!(flat.as_raw(), rgb("dec_rgba_flattened_pil.png").as_raw());
    let _: GrayImage = images::decode_bytes(&read("dec_rgba.png"), &l).expect("png").to_mask();
}
