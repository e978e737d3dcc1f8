//! The HTTP API on the real device pool and the tiny model: what WebUI clients get back, and
//! textual-inversion embeddings from a folder, listed, refreshed and used.

mod common;

use actix_web::test;
use common::pool::*;
use sdgate::api::build_app;
use sdgate::pipeline::Pipeline;
use sdgate::prompt::ti::EmbeddingDb;
use serde_json::{Value, json};

#[actix_web::test]
async fn txt2img_returns_pngs_with_infotext_and_png_info_reads_them_back() {
    let state = real_state(1, Pipeline::new(EmbeddingDb::empty()));
    let app = test::init_service(build_app(state)).await;
    let req = test::TestRequest::post()
        .uri("/sdapi/v1/txt2img")
        .set_json(
            json!({"prompt": "a (cat:1.2), <lora:foo:0.5>", "negative_prompt": "blurry", "steps": 3,
                         "width": 64, "height": 64, "batch_size": 2, "seed": 77, "sampler_name": "DPM++ 2M Karras",
                         "alwayson_scripts": {}}),
        )
        .to_request();
    let res: Value = test::call_and_read_body_json(&app, req).await;
    let images = res["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let info: Value = serde_json::from_str(res["info"].as_str().unwrap()).unwrap();
    assert_eq!(info["all_seeds"], json!([77, 78]));
    let manifest = sdgate::models::ModelFolder::open(&common::tiny_model_dir())
        .unwrap()
        .manifest;
    assert_eq!(info["sd_model_hash"], manifest.source.short_hash.unwrap().as_str());
    let infotext = info["infotexts"][1].as_str().unwrap();
    assert!(
        infotext.contains("Sampler: DPM++ 2M, Schedule type: Karras"),
        "{infotext}"
    );
    assert!(infotext.contains("Seed: 78"), "{infotext}");
    // The LoRA tag is not applied yet: it is reported, never silently dropped.
    assert!(infotext.contains("<lora:foo:0.5>"), "{infotext}");

    let req = test::TestRequest::post()
        .uri("/sdapi/v1/png-info")
        .set_json(json!({"image": format!("data:image/png;base64,{}", images[0].as_str().unwrap())}))
        .to_request();
    let png_info: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(png_info["parameters"]["Seed"], "77");
    assert_eq!(png_info["parameters"]["Size-1"], "64");
}

#[actix_web::test]
async fn embeddings_are_listed_refreshed_and_used_with_their_hash_in_the_infotext() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = common::repo().join("tests/fixtures");
    std::fs::copy(
        fixtures.join("prompt/conditioning/tinyemb.safetensors"),
        dir.path().join("tinyemb.safetensors"),
    )
    .unwrap();
    // A 768-wide SD1.5 embedding does not fit the tiny model (hidden 32): listed as skipped.
    std::fs::copy(
        fixtures.join("prompt/ti/embeddings/wide.safetensors"),
        dir.path().join("wide.safetensors"),
    )
    .unwrap();
    let pipeline = Pipeline::new(EmbeddingDb::scan(dir.path()).unwrap());
    let app = test::init_service(build_app(real_state(1, pipeline))).await;

    let list: Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/sdapi/v1/embeddings").to_request()).await;
    assert_eq!(list["loaded"]["tinyemb"]["shape"], 32, "{list}");
    assert_eq!(list["loaded"]["tinyemb"]["vectors"], 2);
    assert!(list["skipped"].get("wide").is_some(), "{list}");

    let generate = |prompt: &str| {
        test::TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"prompt": prompt, "steps": 2, "width": 64, "height": 64, "seed": 5}))
            .to_request()
    };
    let res: Value = test::call_and_read_body_json(&app, generate("a photo of tinyemb")).await;
    let info: Value = serde_json::from_str(res["info"].as_str().unwrap()).unwrap();
    let infotext = info["infotexts"][0].as_str().unwrap();
    assert!(infotext.contains("TI hashes: \"tinyemb: "), "{infotext}");
    let without: Value = test::call_and_read_body_json(&app, generate("a photo of something")).await;
    assert_ne!(
        res["images"][0], without["images"][0],
        "the embedding changes the image"
    );

    // Refresh without a restart: a new file appears in the listing.
    std::fs::copy(
        dir.path().join("tinyemb.safetensors"),
        dir.path().join("second.safetensors"),
    )
    .unwrap();
    let req = test::TestRequest::post()
        .uri("/sdapi/v1/refresh-embeddings")
        .to_request();
    assert!(test::call_service(&app, req).await.status().is_success());
    let list: Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/sdapi/v1/embeddings").to_request()).await;
    assert!(list["loaded"].get("second").is_some(), "{list}");
}
