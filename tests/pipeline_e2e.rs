//! The generation pipeline end to end on the tiny model, through the real device pool (CPU).

mod common;

use std::sync::Arc;

use common::pool::*;
use sdgate::pipeline::JobControl;
use sdgate::pipeline::job::*;
use sdgate::runtime::backend::Backend;
use sdgate::samplers::all_samplers;

#[test]
fn the_same_request_twice_gives_byte_identical_pngs() {
    let pool = start_pool(1, 8);
    let a = run(&pool, txt2img("a photo of a cat", 1234, 4));
    let b = run(&pool, txt2img("a photo of a cat", 1234, 4));
    assert_eq!(a.images.len(), 1);
    assert_eq!(a.images[0].png, b.images[0].png);
    let c = run(&pool, txt2img("a photo of a cat", 1235, 4));
    assert_ne!(a.images[0].png, c.images[0].png, "another seed gives another image");
    assert!(a.images[0].infotext.contains("Seed: 1234"), "{}", a.images[0].infotext);
}

#[test]
fn every_sampler_generates() {
    let pool = start_pool(1, 64);
    for info in all_samplers() {
        for scheduler in ["Automatic", "Karras"] {
            let job = with_sampler(txt2img("a red house", 7, 3), info.name, scheduler);
            let out = run(&pool, job);
            let lat = out.images[0].latents.as_ref().unwrap();
            assert!(
                lat.iter().all(|v| v.is_finite()),
                "{} {scheduler}: non-finite latents",
                info.name
            );
            assert!(out.images[0].infotext.contains(&format!("Sampler: {}", info.name)));
        }
    }
}

#[test]
fn batch_seeds_are_seed_plus_i_and_match_single_images() {
    let pool = start_pool(1, 8);
    let mut job = txt2img("a cat", 100, 3);
    job.batch_size = 2;
    job.n_iter = 2;
    let out = run(&pool, job);
    assert_eq!(out.info.all_seeds, vec![100, 101, 102, 103]);
    assert_eq!(out.images.len(), 4);
    // Image 3 of the batch equals the same seed generated alone (the WebUI's per-image generators).
    let alone = run(&pool, txt2img("a cat", 103, 3));
    let (x, y) = (
        out.images[3].latents.as_ref().unwrap(),
        alone.images[0].latents.as_ref().unwrap(),
    );
    let diff = x
        .iter()
        .zip(y.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "batch vs alone: {diff}");
}

#[test]
fn a_jobs_result_does_not_depend_on_what_it_was_batched_with() {
    // One worker that merges up to 4 jobs into each UNet call.
    let pool = start_pool(4, 16);
    let alone = run(
        &pool,
        with_sampler(txt2img("a photo of a dog", 42, 6), "DPM++ 2M", "Karras"),
    );
    let controls: Vec<_> = (0..4).map(|_| Arc::new(JobControl::new())).collect();
    let mut rxs = Vec::new();
    for (i, c) in controls.iter().enumerate() {
        let job = match i {
            0 => with_sampler(txt2img("a photo of a dog", 42, 6), "DPM++ 2M", "Karras"),
            1 => with_sampler(txt2img("something else entirely", 7, 9), "Euler a", "Automatic"),
            2 => with_sampler(txt2img("a third prompt, longer", 8, 5), "Heun", "Karras"),
            _ => with_sampler(txt2img("four", 9, 6), "DDIM", "Automatic"),
        };
        rxs.push(pool.submit(job, c.clone()).unwrap());
    }
    let outs: Vec<_> = rxs.into_iter().map(|r| r.blocking_recv().unwrap().unwrap()).collect();
    let (x, y) = (
        outs[0].images[0].latents.as_ref().unwrap(),
        alone.images[0].latents.as_ref().unwrap(),
    );
    let diff = x
        .iter()
        .zip(y.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "batched vs alone: {diff}");
}

#[test]
fn interrupt_keeps_what_was_done_and_skip_goes_on() {
    let pool = start_pool(1, 8);
    let control = Arc::new(JobControl::new());
    control.interrupt();
    let mut job = txt2img("a cat", 1, 5);
    job.n_iter = 3;
    let out = run_with(&pool, job, control);
    assert!(out.interrupted);
    assert!(out.images.len() <= 1);

    let control = Arc::new(JobControl::new());
    control.skip();
    let mut job = txt2img("a cat", 1, 5);
    job.n_iter = 2;
    let out = run_with(&pool, job, control);
    assert!(!out.interrupted);
    assert_eq!(out.images.len(), 2, "skip ends one iteration, the next still runs");
}

fn rgb(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
    })
}

fn mask(w: u32, h: u32) -> image::GrayImage {
    image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if x > w / 4 && x < 3 * w / 4 && y > h / 3 {
            255
        } else {
            0
        }])
    })
}

fn img2img(inpainting: Option<Inpainting>, resize_mode: u8, size: (u32, u32)) -> GenerationJob {
    let mut j = txt2img("a red house", 5, 6);
    j.mode = Mode::Img2Img {
        init_images: vec![rgb(size.0, size.1)],
        resize_mode,
        denoising_strength: 0.6,
        initial_noise_multiplier: None,
        inpainting,
    };
    j
}

fn inpaint_opts(fill: u8, full_res: bool) -> Inpainting {
    Inpainting {
        mask: mask(64, 64),
        mask_blur_x: 4,
        mask_blur_y: 4,
        inpainting_fill: fill,
        inpaint_full_res: full_res,
        inpaint_full_res_padding: 8,
        mask_invert: false,
    }
}

#[test]
fn img2img_every_resize_mode_and_inpainting_fill() {
    let pool = start_pool(1, 32);
    for mode in 0..=3u8 {
        let size = if mode == 3 { (32, 32) } else { (80, 48) };
        let out = run(&pool, img2img(None, mode, size));
        assert_eq!(
            (out.images[0].width, out.images[0].height),
            (64, 64),
            "resize mode {mode}"
        );
        assert!(out.images[0].infotext.contains("Denoising strength: 0.6"));
    }
    for fill in 0..=3u8 {
        for full_res in [false, true] {
            let out = run(&pool, img2img(Some(inpaint_opts(fill, full_res)), 0, (64, 64)));
            let png = &out.images[0];
            assert_eq!((png.width, png.height), (64, 64));
            // Outside the mask the original pixels come back (the WebUI's overlay).
            let decoded = image::load_from_memory(&png.png).unwrap().to_rgb8();
            assert_eq!(
                decoded.get_pixel(1, 1),
                rgb(64, 64).get_pixel(1, 1),
                "fill {fill} full_res {full_res}"
            );
        }
    }
}

#[test]
fn a_nine_channel_inpainting_model_runs_txt2img_and_inpainting() {
    let dir = tempfile::tempdir().unwrap();
    let folder = tiny_inpaint_folder(dir.path());
    assert!(folder.manifest.is_inpainting());
    let pool = start_pool(1, 8);
    let mut job = txt2img("a cat", 3, 3);
    job.model = folder.clone();
    let out = run(&pool, job);
    assert!(out.info.is_using_inpainting_conditioning);
    let mut job = img2img(Some(inpaint_opts(1, false)), 0, (64, 64));
    job.model = folder;
    let out = run(&pool, job);
    assert_eq!(out.images.len(), 1);
}

#[test]
fn hires_fix_latent_and_pixel_upscalers() {
    let pool = start_pool(1, 8);
    for upscaler in ["Latent", "Latent (nearest-exact)", "Lanczos", "None"] {
        let mut job = txt2img("a cat", 11, 3);
        job.mode = Mode::Txt2Img {
            hires: Some(HiresFix {
                width: 96,
                height: 96,
                upscaler: upscaler.into(),
                second_pass_steps: 2,
                denoising_strength: 0.5,
                sampler: None,
                prompt: None,
                negative_prompt: None,
            }),
        };
        let out = run(&pool, job);
        let img = &out.images[0];
        assert_eq!((img.width, img.height), (96, 96), "{upscaler}");
        assert!(
            img.infotext.contains(&format!("Hires upscaler: {upscaler}")),
            "{}",
            img.infotext
        );
    }
}
