//! Image-path benchmarks: decode + fit, tensor → RGB8, PNG encode with infotext, previews,
//! inpainting preparation.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use image::{GrayImage, RgbImage};
use ndarray::{Array3, Array4};
use sdgate::images::{self, ApproxFamily, Limits, MaskOptions, PngCompression, ResizeMode};

fn picture(w: u32, h: u32) -> RgbImage {
    let mut state = 0x2545_f491_u32;
    RgbImage::from_fn(w, h, |x, y| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = (state >> 28) as u8;
        image::Rgb([(x % 256) as u8 ^ n, (y % 256) as u8, ((x + y) % 256) as u8])
    })
}

fn bench_decode_fit(c: &mut Criterion) {
    let limits = Limits::default();
    for size in [512u32, 1024] {
        let png = images::encode_png(&picture(size, size), &[], PngCompression::Balanced).expect("encode");
        let b64 = images::encode_base64(&png);
        c.bench_function(&format!("decode+fit {size}x{size} png -> 768x512 crop"), |b| {
            b.iter(|| {
                let img = images::decode_init_image(black_box(&b64), &limits).expect("decode");
                black_box(images::fit(&img, ResizeMode::CropAndResize, 768, 512).expect("fit"))
            })
        });
    }
}

fn bench_tensor(c: &mut Criterion) {
    let t = Array4::<f32>::from_shape_fn((1, 3, 512, 512), |(_, ch, y, x)| {
        ((x + y + ch) % 200) as f32 / 100.0 - 1.0
    });
    c.bench_function("tensor -> rgb8 512x512", |b| {
        b.iter(|| black_box(images::tensor_to_images(t.view()).expect("rgb")))
    });
    let img = picture(512, 512);
    c.bench_function("rgb8 -> tensor 512x512", |b| {
        b.iter(|| black_box(images::images_to_tensor(std::slice::from_ref(&img)).expect("tensor")))
    });
}

fn bench_png(c: &mut Criterion) {
    let img = picture(512, 512);
    let info = "a cat, (masterpiece:1.2)\nNegative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1";
    for (name, comp) in [("balanced", PngCompression::Balanced), ("fast", PngCompression::Fast)] {
        c.bench_function(&format!("png encode 512x512 + infotext ({name})"), |b| {
            b.iter(|| black_box(images::encode_png(&img, &[("parameters", info)], comp).expect("png")))
        });
    }
}

fn bench_preview(c: &mut Criterion) {
    let lat = Array3::<f32>::from_shape_fn((4, 64, 64), |(ch, y, x)| {
        ((x * 7 + y * 3 + ch) % 31) as f32 / 10.0 - 1.5
    });
    c.bench_function("preview 64x64 latent -> png", |b| {
        b.iter(|| black_box(images::preview_png(lat.view(), ApproxFamily::Sd1, 1).expect("preview")))
    });
    c.bench_function("preview 64x64 latent -> png x4", |b| {
        b.iter(|| black_box(images::preview_png(lat.view(), ApproxFamily::Sd1, 4).expect("preview")))
    });
}

fn bench_inpaint(c: &mut Criterion) {
    let img = picture(512, 512);
    let mask = GrayImage::from_fn(512, 512, |x, y| {
        image::Luma([if (200..300).contains(&x) && (150..350).contains(&y) {
            255
        } else {
            0
        }])
    });
    let opts = MaskOptions::default();
    c.bench_function("inpaint prepare 512x512 (blur 4, fill, only masked)", |b| {
        b.iter(|| {
            black_box(
                images::prepare_img2img(
                    std::slice::from_ref(&img),
                    Some(&mask),
                    ResizeMode::Just,
                    512,
                    512,
                    &opts,
                )
                .expect("prepare"),
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_decode_fit, bench_tensor, bench_png, bench_preview, bench_inpaint
}
criterion_main!(benches);
