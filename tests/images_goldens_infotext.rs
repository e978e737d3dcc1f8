//! Infotext goldens (scripts/goldens/images_infotext.py): building, parsing, round trips.

use std::path::Path;

use sdgate::images::{GenerationInfo, InfoValue, ParsedInfotext};
use serde_json::Value;

fn cases() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/infotext/cases.json");
    serde_json::from_slice(&std::fs::read(p).expect("fixture")).expect("json")
}

fn typed(v: &Value) -> Option<InfoValue> {
    let o = v.as_object()?;
    let (k, x) = o.iter().next()?;
    Some(match k.as_str() {
        "s" => InfoValue::Str(x.as_str()?.to_string()),
        "i" => InfoValue::Int(x.as_i64()?),
        "f" => InfoValue::Float(x.as_f64()?),
        _ => InfoValue::Bool(x.as_bool()?),
    })
}

fn info_from(fields: &Value, extra: &Value) -> GenerationInfo {
    let s = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    let f = |k: &str| fields.get(k).and_then(Value::as_f64);
    let i = |k: &str| fields.get(k).and_then(Value::as_i64);
    GenerationInfo {
        prompt: s("prompt").unwrap_or_default(),
        negative_prompt: s("negative_prompt").unwrap_or_default(),
        steps: i("steps").unwrap_or_default() as u32,
        sampler: s("sampler").unwrap_or_default(),
        schedule_type: s("schedule_type"),
        cfg_scale: f("cfg_scale").unwrap_or_default(),
        image_cfg_scale: f("image_cfg_scale"),
        seed: i("seed").unwrap_or_default(),
        face_restoration: s("face_restoration"),
        width: i("width").unwrap_or_default() as u32,
        height: i("height").unwrap_or_default() as u32,
        model_hash: s("model_hash"),
        model: s("model"),
        vae_hash: s("vae_hash"),
        vae: s("vae"),
        variation_seed: i("variation_seed"),
        variation_seed_strength: f("variation_seed_strength").unwrap_or(0.0),
        seed_resize_from: fields
            .get("seed_resize_from")
            .and_then(Value::as_array)
            .map(|a| (a[0].as_i64().unwrap_or_default(), a[1].as_i64().unwrap_or_default())),
        denoising_strength: f("denoising_strength"),
        conditional_mask_weight: f("conditional_mask_weight"),
        clip_skip: i("clip_skip").unwrap_or(1) as u32,
        ensd: i("ensd"),
        token_merging_ratio: f("token_merging_ratio"),
        init_image_hash: s("init_image_hash"),
        rng: s("rng"),
        tiling: fields.get("tiling").and_then(Value::as_bool).unwrap_or(false),
        extra: extra
            .as_array()
            .expect("extra")
            .iter()
            .map(|kv| (kv[0].as_str().expect("key").to_string(), typed(&kv[1])))
            .collect(),
        version: s("version"),
        user: s("user"),
    }
}

#[test]
fn create_infotext_matches_the_webui() {
    let c = cases();
    for case in c["build"].as_array().expect("build") {
        let info = info_from(&case["fields"], &case["extra"]);
        assert_eq!(info.to_infotext(), case["infotext"].as_str().expect("text"), "{case}");
    }
}

#[test]
fn parse_generation_parameters_matches_the_webui() {
    let c = cases();
    for case in c["parse"].as_array().expect("parse") {
        let text = case["text"].as_str().expect("text");
        let p = ParsedInfotext::parse(text);
        assert_eq!(p.prompt, case["prompt"].as_str().expect("prompt"), "{text:?}");
        assert_eq!(
            p.negative_prompt,
            case["negative_prompt"].as_str().expect("neg"),
            "{text:?}"
        );
        let want: Vec<(String, String)> = case["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|kv| {
                (
                    kv[0].as_str().expect("k").to_string(),
                    kv[1].as_str().expect("v").to_string(),
                )
            })
            .collect();
        assert_eq!(p.params, want, "{text:?}");
        let want: Vec<(String, Value)> = case["webui"]
            .as_array()
            .expect("webui")
            .iter()
            .map(|kv| (kv[0].as_str().expect("k").to_string(), kv[1].clone()))
            .collect();
        assert_eq!(p.to_webui_dict(), want, "{text:?}");
    }
}

#[test]
fn built_infotexts_parse_back() {
    let c = cases();
    for case in c["build"].as_array().expect("build") {
        let info = info_from(&case["fields"], &case["extra"]);
        let p = ParsedInfotext::parse(&info.to_infotext());
        if info.prompt.trim().is_empty() && info.negative_prompt.trim().is_empty() {
            continue;
        }
        assert_eq!(p.prompt, info.prompt.trim(), "{case}");
        assert_eq!(p.steps(), Some(info.steps));
        assert_eq!(p.seed(), Some(info.seed));
        assert_eq!(p.size(), Some((info.width, info.height)));
        assert_eq!(p.sampler(), Some(info.sampler.as_str()));
        assert_eq!(p.cfg_scale(), Some(info.cfg_scale));
        assert_eq!(p.model(), info.model.as_deref());
    }
}
