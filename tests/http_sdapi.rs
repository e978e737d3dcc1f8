//! /sdapi/v1 routes on the fake backend: response shapes as the WebUI answers them.

#[macro_use]
mod common;

use actix_web::test::{self, TestRequest};
use base64::Engine;
use common::*;
use sdgate::api::build_app;
use serde_json::{Value, json};

macro_rules! app {
    ($h:expr) => {
        test::init_service(build_app($h.state.clone())).await
    };
}

#[actix_web::test]
async fn txt2img_answers_like_the_webui() {
    let h = harness();
    let app = app!(h);
    let (status, v) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/txt2img").set_json(json!({
            "prompt": "a cat", "negative_prompt": "lowres", "steps": 3, "width": 64, "height": 64,
            "seed": 1234, "batch_size": 2, "n_iter": 2, "sampler_name": "DPM++ 2M", "scheduler": "Karras",
            "alwayson_scripts": {}, "restore_faces": false, "tiling": false, "script_args": []
        })),
    );
    assert_eq!(status, 200, "{v}");
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 4);
    let png = base64::engine::general_purpose::STANDARD
        .decode(images[0].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "raw base64 PNG without a data: prefix");
    assert_eq!(v["parameters"]["prompt"], "a cat");
    assert_eq!(v["parameters"]["steps"], 3);
    assert_eq!(v["parameters"]["cfg_scale"], 7.0, "defaults filled");
    assert_eq!(v["parameters"]["seed"], 1234);
    let info: Value = serde_json::from_str(v["info"].as_str().expect("info is a JSON string")).unwrap();
    assert_eq!(info["seed"], 1234);
    assert_eq!(info["all_seeds"], json!([1234, 1235, 1236, 1237]));
    assert_eq!(info["sampler_name"], "DPM++ 2M");
    assert_eq!(info["infotexts"].as_array().unwrap().len(), 4);
    for key in [
        "prompt",
        "all_prompts",
        "negative_prompt",
        "subseed",
        "width",
        "height",
        "cfg_scale",
        "steps",
        "batch_size",
        "restore_faces",
        "sd_model_name",
        "sd_model_hash",
        "seed_resize_from_w",
        "denoising_strength",
        "extra_generation_params",
        "index_of_first_image",
        "styles",
        "job_timestamp",
        "clip_skip",
        "is_using_inpainting_conditioning",
        "version",
    ] {
        assert!(info.get(key).is_some(), "info lacks {key}");
    }
    let job = &h.backend.accepted()[0];
    assert_eq!(job.sampler.sampler, "DPM++ 2M");
    assert_eq!(job.sampler.scheduler, "Karras");
    assert_eq!(
        (job.width, job.height, job.batch_size, job.n_iter, job.steps),
        (64, 64, 2, 2, 3)
    );
}

#[actix_web::test]
async fn defaults_are_the_webuis() {
    let h = harness();
    let app = app!(h);
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 1}))
    );
    assert_eq!(status, 200, "{v}");
    let job = &h.backend.accepted()[0];
    assert_eq!((job.width, job.height), (512, 512));
    assert_eq!(job.cfg_scale, 7.0);
    assert_eq!(job.sampler.sampler, "Euler", "sampler_index defaults to Euler");
    assert!(job.seed.seed < 4_294_967_294, "seed -1 is drawn");
    assert_eq!(job.clip_skip, 1);
    // sampler_name wins over sampler_index; an empty sampler_name falls back to it.
    let _ = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 1, "sampler_name": "Euler a", "sampler_index": "LMS"}))
    );
    let _ = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 1, "sampler_name": "", "sampler_index": "LMS"}))
    );
    let _ = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 1, "sampler_name": "DPM++ 2M Karras"}))
    );
    let jobs = h.backend.accepted();
    assert_eq!(jobs[1].sampler.sampler, "Euler a");
    assert_eq!(jobs[2].sampler.sampler, "LMS");
    assert_eq!(
        (jobs[3].sampler.sampler.as_str(), jobs[3].sampler.scheduler.as_str()),
        ("DPM++ 2M", "Karras")
    );
    // send_images false: no images, info still there.
    let (_, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 1, "width": 64, "height": 64, "send_images": false}))
    );
    assert_eq!(v["images"], json!([]));
    assert!(v["info"].is_string());
}

#[actix_web::test]
async fn override_settings_and_hires() {
    let h = harness();
    let app = app!(h);
    let (status, v) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/txt2img").set_json(json!({
            "steps": 1, "width": 64, "height": 96,
            "override_settings": {"sd_model_checkpoint": "model-b [bbbbbbbbbb]", "CLIP_stop_at_last_layers": 2,
                                  "eta_noise_seed_delta": 31337, "randn_source": "CPU", "unknown_setting": 1},
            "enable_hr": true, "hr_scale": 2, "hr_upscaler": "Latent (bicubic)", "hr_second_pass_steps": 2,
            "hr_sampler_name": "Euler a"
        })),
    );
    assert_eq!(status, 200, "{v}");
    let job = &h.backend.accepted()[0];
    assert_eq!(job.model.manifest.name, "model-b");
    assert_eq!(job.clip_skip, 2);
    assert_eq!(job.seed.eta_noise_seed_delta, 31337);
    assert_eq!(job.seed.source, sdgate::pipeline::job::RngSource::Cpu);
    match &job.mode {
        sdgate::pipeline::job::Mode::Txt2Img { hires: Some(hr) } => {
            assert_eq!((hr.width, hr.height, hr.second_pass_steps), (128, 192, 2));
            assert_eq!(hr.upscaler, "Latent (bicubic)");
            assert_eq!(hr.sampler.as_ref().unwrap().sampler, "Euler a");
        }
        other => panic!("{other:?}"),
    }
    // The current model did not change.
    let (_, opts) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/options"));
    assert_eq!(opts["sd_model_checkpoint"], "model-a [aaaaaaaaaa]");
}

#[actix_web::test]
async fn img2img_and_inpainting() {
    let h = harness();
    let app = app!(h);
    let init = format!("data:image/png;base64,{}", b64_png(64, 64));
    let (status, v) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/img2img").set_json(json!({
            "prompt": "a dog", "init_images": [init], "mask": b64_png(64, 64), "denoising_strength": 0.5,
            "steps": 2, "width": 64, "height": 64, "mask_blur": 7, "inpainting_fill": 1, "inpaint_full_res": 0,
            "resize_mode": 1
        })),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["images"].as_array().unwrap().len(), 1);
    assert!(
        v["parameters"]["init_images"].is_null(),
        "init_images blanked in the echo"
    );
    assert!(v["parameters"]["mask"].is_null());
    match &h.backend.accepted()[0].mode {
        sdgate::pipeline::job::Mode::Img2Img {
            init_images,
            resize_mode,
            denoising_strength,
            inpainting,
            ..
        } => {
            assert_eq!((init_images[0].width(), init_images[0].height()), (64, 64));
            assert_eq!(*resize_mode, 1);
            assert_eq!(*denoising_strength, 0.5);
            let inp = inpainting.as_ref().unwrap();
            assert_eq!(
                (
                    inp.mask_blur_x,
                    inp.mask_blur_y,
                    inp.inpainting_fill,
                    inp.inpaint_full_res
                ),
                (7, 7, 1, false)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn options_switch_the_model_for_later_jobs_only() {
    let h = harness();
    let app = app!(h);
    let (_, opts) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/options"));
    assert_eq!(opts["sd_model_checkpoint"], "model-a [aaaaaaaaaa]");
    assert_eq!(opts["sd_checkpoint_hash"], "a".repeat(64));
    assert_eq!(opts["CLIP_stop_at_last_layers"], 1);
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/options")
            .set_json(json!({"sd_model_checkpoint": "nope"}))
    );
    assert_eq!(status, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("model-b"),
        "lists the known models: {v}"
    );
    let (status, v) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/options").set_json(
            json!({"sd_model_checkpoint": "model-b", "CLIP_stop_at_last_layers": 2, "some_unknown_key": true})
        )
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, Value::Null);
    let (_, opts) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/options"));
    assert_eq!(opts["sd_model_checkpoint"], "model-b [bbbbbbbbbb]");
    assert_eq!(opts["CLIP_stop_at_last_layers"], 2);
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/options")
            .set_json(json!({"CLIP_stop_at_last_layers": "two"}))
    );
    assert_eq!(status, 422);
    let _ = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 1, "width": 64, "height": 64}))
    );
    let job = &h.backend.accepted()[0];
    assert_eq!(job.model.manifest.name, "model-b");
    assert_eq!(job.clip_skip, 2);
}

#[actix_web::test]
async fn a_queued_job_keeps_its_model_when_the_current_one_changes() {
    let h = harness_with(
        Default::default(),
        FakeConfig {
            paused: true,
            ..FakeConfig::default()
        },
    );
    let app = app!(h);
    let (status, job) = call_json!(
        &app,
        TestRequest::post()
            .uri("/v1/jobs")
            .set_json(json!({"type": "txt2img", "steps": 1, "width": 64, "height": 64}))
    );
    assert_eq!(status, 202);
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/options")
            .set_json(json!({"sd_model_checkpoint": "model-b"}))
    );
    assert_eq!(status, 200);
    h.backend.resume();
    let id = job["id"].as_str().unwrap().to_string();
    let mut done = Value::Null;
    for _ in 0..500 {
        let (_, v) = call_json!(&app, TestRequest::get().uri(&format!("/v1/jobs/{id}")));
        if v["state"] == "succeeded" {
            done = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(done["model"], "model-a [aaaaaaaaaa]");
    assert_eq!(h.backend.accepted()[0].model.manifest.name, "model-a");
}

#[actix_web::test]
async fn progress_interrupt_and_skip() {
    let h = harness_with(
        Default::default(),
        FakeConfig {
            step_delay: std::time::Duration::from_millis(20),
            ..FakeConfig::default()
        },
    );
    let app = app!(h);
    let (_, idle) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/progress"));
    assert_eq!(idle["progress"], 0.0);
    assert_eq!(idle["eta_relative"], 0.0);
    assert_eq!(idle["state"]["job_count"], 0);
    assert_eq!(idle["state"]["job_timestamp"], "0");
    assert!(idle["current_image"].is_null());
    for k in [
        "skipped",
        "interrupted",
        "job",
        "job_no",
        "sampling_step",
        "sampling_steps",
    ] {
        assert!(idle["state"].get(k).is_some(), "{k}");
    }
    let (_, job) = call_json!(
        &app,
        TestRequest::post()
            .uri("/v1/jobs")
            .set_json(json!({"type": "txt2img", "steps": 50, "n_iter": 3, "width": 64, "height": 64}))
    );
    let id = job["id"].as_str().unwrap().to_string();
    let jobs = h.state.jobs.clone();
    let jid: uuid::Uuid = id.parse().unwrap();
    eventually(|| jobs.get(jid).is_some_and(|r| r.progress.steps_done >= 12)).await;
    let (_, p) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/progress"));
    assert!(p["progress"].as_f64().unwrap() > 0.0, "{p}");
    assert_eq!(p["state"]["job"], id.as_str());
    assert_eq!(p["state"]["job_count"], 3);
    assert_eq!(p["state"]["sampling_steps"], 50);
    assert!(p["current_image"].is_string(), "a preview after 10 steps: {p}");
    let (_, p) = call_json!(
        &app,
        TestRequest::get().uri("/sdapi/v1/progress?skip_current_image=true")
    );
    assert!(p["current_image"].is_null());
    // skip: the first iteration ends early, the job goes on.
    let (status, v) = call_json!(&app, TestRequest::post().uri("/sdapi/v1/skip"));
    assert_eq!((status.as_u16(), v), (200, Value::Null));
    eventually(|| jobs.get(jid).is_some_and(|r| r.progress.job_no >= 1)).await;
    // interrupt: ends with the images done so far.
    let (status, v) = call_json!(&app, TestRequest::post().uri("/sdapi/v1/interrupt"));
    assert_eq!((status.as_u16(), v), (200, json!({})));
    eventually(|| jobs.get(jid).is_some_and(|r| r.state.is_final())).await;
    let (_, v) = call_json!(&app, TestRequest::get().uri(&format!("/v1/jobs/{id}")));
    assert_eq!(v["state"], "interrupted");
    assert_eq!(
        v["images"].as_array().unwrap().len(),
        1,
        "the skipped first batch still produced its image"
    );
}

#[actix_web::test]
async fn lists_have_the_webui_shapes() {
    let h = harness();
    let app = app!(h);
    let (_, models) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/sd-models"));
    assert_eq!(models[0]["title"], "model-a [aaaaaaaaaa]");
    assert_eq!(models[0]["model_name"], "model-a");
    assert_eq!(models[0]["hash"], "aaaaaaaaaa");
    assert_eq!(models[1]["title"], "model-b [bbbbbbbbbb]");
    for k in ["sha256", "filename", "config"] {
        assert!(models[0].get(k).is_some(), "{k}");
    }
    let (_, samplers) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/samplers"));
    assert!(samplers.as_array().unwrap().iter().any(|s| s["name"] == "Euler a"));
    assert!(samplers[0]["aliases"].is_array() && samplers[0]["options"].is_object());
    let (_, sch) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/schedulers"));
    for k in ["name", "label", "aliases", "default_rho", "need_inner_model"] {
        assert!(sch[0].get(k).is_some(), "{k}");
    }
    let (_, ups) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/upscalers"));
    assert_eq!(ups[0]["name"], "None");
    for k in ["model_name", "model_path", "model_url", "scale"] {
        assert!(ups[0].get(k).is_some(), "{k}");
    }
    let (_, modes) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/latent-upscale-modes"));
    assert_eq!(modes[0], json!({"name": "Latent"}));
    let (_, emb) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/embeddings"));
    assert_eq!(emb, json!({"loaded": {}, "skipped": {}}));
    let (_, scripts) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/scripts"));
    assert_eq!(scripts, json!({"txt2img": [], "img2img": []}));
    for empty in [
        "sd-vae",
        "loras",
        "hypernetworks",
        "face-restorers",
        "realesrgan-models",
        "prompt-styles",
        "script-info",
        "extensions",
    ] {
        let (status, v) = call_json!(&app, TestRequest::get().uri(&format!("/sdapi/v1/{empty}")));
        assert_eq!((status.as_u16(), v), (200, json!([])), "{empty}");
    }
    let (_, mem) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/memory"));
    assert!(mem["ram"].is_object() && mem["cuda"].is_object());
    for r in [
        "refresh-checkpoints",
        "refresh-embeddings",
        "refresh-loras",
        "refresh-vae",
    ] {
        let (status, v) = call_json!(&app, TestRequest::post().uri(&format!("/sdapi/v1/{r}")));
        assert_eq!((status.as_u16(), v), (200, Value::Null), "{r}");
    }
}

#[actix_web::test]
async fn png_info_round_trip() {
    let h = harness();
    let app = app!(h);
    let (_, generated) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/txt2img").set_json(
            json!({"prompt": "a cat", "negative_prompt": "ugly", "steps": 3, "width": 64, "height": 64, "seed": 5})
        )
    );
    let image = generated["images"][0].as_str().unwrap();
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/png-info")
            .set_json(json!({"image": format!("data:image/png;base64,{image}")}))
    );
    assert_eq!(status, 200, "{v}");
    assert!(
        v["info"]
            .as_str()
            .unwrap()
            .starts_with("a cat\nNegative prompt: ugly\nSteps: 3")
    );
    assert_eq!(v["items"], json!({}));
    assert_eq!(v["parameters"]["Prompt"], "a cat");
    assert_eq!(v["parameters"]["Seed"], "5");
    assert_eq!(v["parameters"]["Size-1"], "64");
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/png-info")
            .set_json(json!({"image": ""}))
    );
    assert_eq!(status, 404);
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/png-info")
            .set_json(json!({"image": "bm90IGEgcG5n"}))
    );
    assert_eq!(status, 422);
}

#[actix_web::test]
async fn extras_is_501_and_cmd_flags_hide_secrets() {
    let settings = sdgate::api::ApiSettings {
        cmd_flags: json!({"api_auth": "<redacted>", "port": 7860}),
        ..Default::default()
    };
    let h = harness_with(settings, FakeConfig::default());
    let app = app!(h);
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/extra-single-image")
            .set_json(json!({"image": b64_png(8, 8), "upscaling_resize": 2, "upscaler_1": "Lanczos"}))
    );
    assert_eq!(status, 501);
    assert_eq!(v["type"], "not_implemented");
    assert!(v["detail"].as_str().unwrap().contains("upscaler"));
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/extra-single-image")
            .set_json(json!({}))
    );
    assert_eq!(status, 422);
    let (_, flags) = call_json!(&app, TestRequest::get().uri("/sdapi/v1/cmd-flags"));
    assert_eq!(flags["api_auth"], "<redacted>");
}

#[actix_web::test]
async fn failures_map_to_status_codes() {
    let h = harness();
    let app = app!(h);
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"prompt": "FAIL_PROMPT", "steps": 1, "width": 64, "height": 64}))
    );
    assert_eq!(status, 422, "{v}");
    for k in ["error", "detail", "body", "errors", "type"] {
        assert!(v.get(k).is_some(), "{k}");
    }
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"prompt": "FAIL_INTERNAL", "steps": 1, "width": 64, "height": 64}))
    );
    assert_eq!(status, 500, "{v}");
    assert_eq!(v["type"], "generation_failed");
}

#[actix_web::test]
async fn every_answer_has_x_process_time() {
    let h = harness();
    let app = app!(h);
    for req in [
        TestRequest::get().uri("/sdapi/v1/samplers"),
        TestRequest::get().uri("/nope"),
        TestRequest::post().uri("/sdapi/v1/txt2img").set_payload("{"),
    ] {
        let res = test::call_service(&app, req.to_request()).await;
        assert!(res.headers().get("x-process-time").is_some(), "{}", res.status());
    }
}

#[actix_web::test]
async fn infotext_fills_what_the_request_leaves_unset() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let infotext = "a castle\nNegative prompt: fog\nSteps: 4, Sampler: Euler a, Schedule type: Karras, CFG scale: 5.5, Seed: 42, Size: 64x128, Clip skip: 2, ENSD: 31337, RNG: NV";
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"infotext": infotext, "steps": 2}))
    );
    assert_eq!(status, 200, "{v}");
    let job = &h.backend.accepted()[0];
    assert_eq!(job.prompt, "a castle");
    assert_eq!(job.negative_prompt, "fog");
    assert_eq!(job.steps, 2, "the request's own value wins");
    assert_eq!(
        (job.width, job.height, job.cfg_scale, job.seed.seed),
        (64, 128, 5.5, 42)
    );
    assert_eq!(
        (job.sampler.sampler.as_str(), job.sampler.scheduler.as_str()),
        ("Euler a", "Karras")
    );
    assert_eq!((job.clip_skip, job.seed.eta_noise_seed_delta), (2, 31337));
    assert_eq!(job.seed.source, sdgate::pipeline::job::RngSource::Nv);
}

#[actix_web::test]
async fn a_slow_generation_past_the_request_timeout_is_504_and_stopped() {
    let settings = sdgate::api::ApiSettings {
        request_timeout: Some(std::time::Duration::from_millis(100)),
        ..Default::default()
    };
    let h = harness_with(
        settings,
        FakeConfig {
            step_delay: std::time::Duration::from_millis(20),
            ..FakeConfig::default()
        },
    );
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"steps": 150, "width": 64, "height": 64}))
    );
    assert_eq!(status, 504, "{v}");
    assert_eq!(v["type"], "timeout");
    let jobs = h.state.jobs.clone();
    eventually(|| jobs.live_count() == 0).await;
    let page = jobs.list(&sdgate::jobs::JobQuery {
        state: None,
        offset: 0,
        limit: 1,
    });
    assert!(matches!(
        page.jobs[0].state,
        sdgate::jobs::JobState::Interrupted | sdgate::jobs::JobState::Cancelled
    ));
}

#[actix_web::test]
async fn native_img2img_jobs() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, v) = call_json!(
        &app,
        TestRequest::post().uri("/v1/jobs").set_json(
            json!({"type": "img2img", "init_images": [b64_png(64, 64)], "steps": 2, "width": 64, "height": 64})
        )
    );
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["type"], "img2img");
    let jobs = h.state.jobs.clone();
    eventually(|| jobs.live_count() == 0).await;
    assert!(matches!(
        h.backend.accepted()[0].mode,
        sdgate::pipeline::job::Mode::Img2Img { .. }
    ));
}
