//! Mask goldens: OpenCV blur, crop regions, fill, img2img preparation and paste-back
//! (scripts/goldens/images_mask.py, Pillow 9.5.0 + OpenCV 4.12).

use std::path::{Path, PathBuf};

use image::{GrayImage, RgbImage, RgbaImage};
use sdgate::images::{self, InpaintingFill, Limits, MaskOptions, ResizeMode};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/mask")
}

fn load(name: &Value) -> image::DynamicImage {
    let bytes = std::fs::read(dir().join(name.as_str().expect("name"))).expect("fixture");
    images::decode_bytes(&bytes, &Limits::default()).expect("decode").image
}

fn gray(name: &Value) -> GrayImage {
    load(name).to_luma8()
}

fn rgb(name: &Value) -> RgbImage {
    load(name).to_rgb8()
}

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).expect("manifest")).expect("json")
}

fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

fn u(v: &Value) -> u32 {
    v.as_u64().expect("u64") as u32
}

#[test]
fn mask_blur_is_bit_exact_with_opencv() {
    let m = manifest();
    for case in m["blur"].as_array().expect("blur") {
        let b = case["blur"].as_array().expect("blur");
        let got = images::blur_mask(&gray(&case["mask"]), u(&b[0]), u(&b[1]));
        let want = gray(&case["output"]);
        assert_eq!(max_diff(got.as_raw(), want.as_raw()), 0, "{case}");
    }
}

#[test]
fn crop_regions_match() {
    let m = manifest();
    for case in m["regions"].as_array().expect("regions") {
        let s: Vec<u32> = case["size"].as_array().expect("size").iter().map(u).collect();
        let r: Vec<u32> = case["rect"].as_array().expect("rect").iter().map(u).collect();
        let mask = GrayImage::from_fn(s[0], s[1], |x, y| {
            image::Luma([if x >= r[0] && x < r[2] && y >= r[1] && y < r[3] {
                9
            } else {
                0
            }])
        });
        let region = images::get_crop_region(&mask, u(&case["pad"])).expect("region");
        let want: Vec<u32> = case["region"].as_array().expect("region").iter().map(u).collect();
        assert_eq!(vec![region.0, region.1, region.2, region.3], want, "{case}");
        let p: Vec<u32> = case["processing"].as_array().expect("p").iter().map(u).collect();
        let e = images::expand_crop_region(region, p[0], p[1], s[0], s[1]);
        let want: Vec<u32> = case["expanded"].as_array().expect("expanded").iter().map(u).collect();
        assert_eq!(vec![e.0, e.1, e.2, e.3], want, "{case}");
    }
}

#[test]
fn fill_is_bit_exact_with_pillow() {
    let m = manifest();
    for case in m["fill"].as_array().expect("fill") {
        let got = images::fill(&rgb(&case["image"]), &gray(&case["mask"]));
        assert_eq!(max_diff(got.as_raw(), rgb(&case["output"]).as_raw()), 0, "{case}");
    }
}

#[test]
fn img2img_preparation_and_paste_back_match_the_webui() {
    let m = manifest();
    let image = rgb(&Value::from("prep_image.png"));
    let mask = gray(&Value::from("prep_mask.png"));
    for case in m["prepare"].as_array().expect("prepare") {
        let c = &case["config"];
        let opts = MaskOptions {
            blur_x: u(&c["bx"]),
            blur_y: u(&c["by"]),
            invert: c["invert"].as_bool().expect("bool"),
            fill: InpaintingFill::from_api(c["fill_mode"].as_i64().expect("i")).expect("fill"),
            full_res: c["full_res"].as_bool().expect("bool"),
            full_res_padding: u(&c["padding"]),
        };
        let mode = ResizeMode::from_api(c["resize_mode"].as_i64().expect("i")).expect("mode");
        let (w, h) = (u(&c["width"]), u(&c["height"]));
        let p = images::prepare_img2img(std::slice::from_ref(&image), Some(&mask), mode, w, h, &opts).expect("prepare");
        let pm = p.mask.as_ref().expect("mask");
        assert_eq!(
            max_diff(p.images[0].as_raw(), rgb(&case["image"]).as_raw()),
            0,
            "image {c}"
        );
        assert_eq!(
            pm.image_mask.as_raw(),
            gray(&case["image_mask"]).as_raw(),
            "image_mask {c}"
        );
        assert_eq!(
            pm.mask_for_overlay.as_raw(),
            gray(&case["mask_for_overlay"]).as_raw(),
            "mask_for_overlay {c}"
        );
        let want_overlay: RgbaImage = load(&case["overlay"]).to_rgba8();
        assert_eq!(pm.overlays[0].as_raw(), want_overlay.as_raw(), "overlay {c}");
        let want_paste = case["paste_to"]
            .as_array()
            .map(|a| (u(&a[0]), u(&a[1]), u(&a[2]), u(&a[3])));
        assert_eq!(pm.paste_to, want_paste, "{c}");
        let lm = pm.latent_mask(w / 8, h / 8).expect("latent mask");
        let want_lm: Vec<f32> = case["latent_mask"]
            .as_array()
            .expect("rows")
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .expect("row")
                    .iter()
                    .map(|v| v.as_f64().expect("f") as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(lm.nmask, want_lm, "latent mask {c}");
        let out = pm.apply_overlay(&rgb(&case["generated"]), 0).expect("overlay");
        assert_eq!(max_diff(out.as_raw(), rgb(&case["final"]).as_raw()), 0, "final {c}");
    }
}
