//! Metadata goldens (scripts/goldens/images_metadata.py, Pillow 9.5.0 + piexif 1.1.3) and
//! preview goldens (scripts/goldens/images_vae_approx.py, torch).

use std::path::{Path, PathBuf};

use ndarray::Array3;
use sdgate::images::{self, ApproxFamily, Limits, PngCompression};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images")
}

fn text_chunks(png: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes([png[pos], png[pos + 1], png[pos + 2], png[pos + 3]]) as usize;
        let ty = png[pos + 4..pos + 8].to_vec();
        if [&b"tEXt"[..], b"iTXt", b"zTXt"].contains(&ty.as_slice()) {
            out.push((ty, png[pos + 8..pos + 8 + len].to_vec()));
        }
        pos += 12 + len;
    }
    out
}

#[test]
fn read_info_matches_the_webui() {
    let dir = fixtures().join("metadata");
    let m: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("json");
    for case in m["cases"].as_array().expect("cases") {
        let bytes = std::fs::read(dir.join(case["file"].as_str().expect("file"))).expect("fixture");
        let meta = images::read_metadata(&bytes, &Limits::default()).expect("metadata");
        assert_eq!(meta.infotext.as_deref(), case["infotext"].as_str(), "{case}");
        let items: Vec<(String, String)> = meta.items.into_iter().map(|t| (t.keyword, t.text)).collect();
        let want: Vec<(String, String)> = case["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|kv| {
                (
                    kv[0].as_str().expect("k").to_string(),
                    kv[1].as_str().expect("v").to_string(),
                )
            })
            .collect();
        assert_eq!(items, want, "{case}");
        if let Some(texts) = case["written_texts"].as_array() {
            // Our text chunks are byte-identical to Pillow's PngInfo.add_text ones.
            let texts: Vec<(&str, &str)> = texts
                .iter()
                .map(|kv| (kv[0].as_str().expect("k"), kv[1].as_str().expect("v")))
                .collect();
            let img = images::decode_bytes(&bytes, &Limits::default())
                .expect("decode")
                .to_rgb_flattened();
            let ours = images::encode_png(&img, &texts, PngCompression::Balanced).expect("encode");
            assert_eq!(text_chunks(&ours), text_chunks(&bytes), "{case}");
        }
    }
}

#[test]
fn cheap_preview_matches_torch() {
    let dir = fixtures().join("preview");
    let m: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("json");
    let mut worst = 0u8;
    for case in m["cases"].as_array().expect("cases") {
        let s: Vec<usize> = case["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|v| v.as_u64().expect("n") as usize)
            .collect();
        let lat: Vec<f32> = std::fs::read(dir.join(case["latent"].as_str().expect("latent")))
            .expect("latent")
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let lat = Array3::from_shape_vec((s[1], s[2], s[3]), lat).expect("shape");
        let fam = if case["coefs"] == "sdxl" {
            ApproxFamily::Sdxl
        } else {
            ApproxFamily::Sd1
        };
        let img = images::cheap_approximation(lat.view(), fam).expect("preview");
        let want = std::fs::read(dir.join(case["rgb"].as_str().expect("rgb"))).expect("rgb");
        let d = img
            .as_raw()
            .iter()
            .zip(&want)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        worst = worst.max(d);
    }
    println!("cheap preview vs torch: max abs diff {worst}");
    assert!(worst <= 1, "max abs diff {worst}");
}
