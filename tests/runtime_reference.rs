//! Each graph of the exported tiny model, run by sdgate's runtime on ONNX Runtime's CPU provider,
//! matches the torch reference (diffusers/transformers) made by onnx/make_fixtures.py: ≤ 1e-5.

mod common;

use common::*;
use ndarray::{Array3, Array4, Ix3, Ix4};
use sdgate::models::ModelFolder;
use sdgate::runtime::{Engine, ProviderOptions};

const TOL: f32 = 1e-5;

fn engine() -> Engine {
    load_ort();
    let folder = ModelFolder::open(&tiny_model_dir()).unwrap();
    Engine::load(folder, &test_provider()).unwrap()
}

fn check(name: &str, got: ndarray::ArrayD<f32>, want: ndarray::ArrayD<f32>) {
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = max_abs_diff(&got, &want) / scale;
    println!("{name}: max |diff| / max(1, max|ref|) = {err:e}");
    assert!(err <= TOL, "{name}: error {err} > {TOL}");
}

#[test]
fn every_graph_matches_torch() {
    let r = load_safetensors(&repo().join("tests/fixtures/tiny-sd1/reference.safetensors"));
    let mut e = engine();

    let embeds: Array3<f32> = f32_tensor(&r, "text_encoder.inputs_embeds")
        .into_dimensionality::<Ix3>()
        .unwrap();
    for layer in [1usize, 2] {
        let got = e.encode_text(embeds.clone(), layer).unwrap();
        check(
            &format!("text_encoder layer_from_end={layer}"),
            got.into_dyn(),
            f32_tensor(&r, &format!("text_encoder.hidden_states.{layer}")),
        );
    }

    for s in ["s77", "s154"] {
        let sample: Array4<f32> = f32_tensor(&r, &format!("unet.{s}.sample"))
            .into_dimensionality::<Ix4>()
            .unwrap();
        let t = f32_tensor(&r, &format!("unet.{s}.timestep")).iter().copied().collect();
        let ctx: Array3<f32> = f32_tensor(&r, &format!("unet.{s}.encoder_hidden_states"))
            .into_dimensionality::<Ix3>()
            .unwrap();
        let got = e.unet(sample, t, ctx).unwrap();
        check(
            &format!("unet {s}"),
            got.into_dyn(),
            f32_tensor(&r, &format!("unet.{s}.out_sample")),
        );
    }

    let img: Array4<f32> = f32_tensor(&r, "vae_encoder.sample")
        .into_dimensionality::<Ix4>()
        .unwrap();
    check(
        "vae_encoder",
        e.vae_encode(img).unwrap().into_dyn(),
        f32_tensor(&r, "vae_encoder.latent_parameters"),
    );

    let lat: Array4<f32> = f32_tensor(&r, "vae_decoder.latent_sample")
        .into_dimensionality::<Ix4>()
        .unwrap();
    check(
        "vae_decoder",
        e.vae_decode(lat).unwrap().into_dyn(),
        f32_tensor(&r, "vae_decoder.sample"),
    );
}

#[test]
fn the_embedding_table_matches_the_token_embeddings_input() {
    // The runtime looks token ids up in the table beside the text encoder; the reference's
    // inputs_embeds were made the same way from its input_ids.
    let r = load_safetensors(&repo().join("tests/fixtures/tiny-sd1/reference.safetensors"));
    // The table may be stored in f16 even for fp32 graphs (it is, when every value is exact in f16, as
    // for the fp16 tiny checkpoint): the helper widens it to f32.
    let path = tiny_model_dir().join("text_encoder/token_embedding.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let dtype = safetensors::SafeTensors::deserialize(&bytes)
        .unwrap()
        .tensor("token_embedding")
        .unwrap()
        .dtype();
    assert!(
        matches!(dtype, safetensors::Dtype::F16 | safetensors::Dtype::F32),
        "{dtype:?}"
    );
    let table = f32_tensor(&load_safetensors(&path), "token_embedding");
    let ids = match r.get("text_encoder.input_ids") {
        Some(Tensor::I64(a)) => a.clone(),
        _ => panic!("input_ids"),
    };
    let embeds = f32_tensor(&r, "text_encoder.inputs_embeds");
    for (row, id_row) in ids.outer_iter().enumerate() {
        for (pos, id) in id_row.iter().enumerate() {
            for k in 0..table.shape()[1] {
                assert_eq!(embeds[[row, pos, k]], table[[*id as usize, k]]);
            }
        }
    }
}

#[test]
fn the_unet_through_iobinding_buffers_matches_the_plain_run() {
    load_ort();
    let r = load_safetensors(&repo().join("tests/fixtures/tiny-sd1/reference.safetensors"));
    let folder = ModelFolder::open(&tiny_model_dir()).unwrap();
    let opts = ProviderOptions {
        io_binding: true,
        ..ProviderOptions::default()
    };
    let mut e = Engine::load(folder, &opts).unwrap();
    // Two shapes, each twice: buckets are created once and reused.
    for _ in 0..2 {
        for s in ["s77", "s154"] {
            let sample: Array4<f32> = f32_tensor(&r, &format!("unet.{s}.sample"))
                .into_dimensionality::<Ix4>()
                .unwrap();
            let t = f32_tensor(&r, &format!("unet.{s}.timestep")).iter().copied().collect();
            let ctx: Array3<f32> = f32_tensor(&r, &format!("unet.{s}.encoder_hidden_states"))
                .into_dimensionality::<Ix3>()
                .unwrap();
            let got = e.unet(sample, t, ctx).unwrap();
            check(
                &format!("bound unet {s}"),
                got.into_dyn(),
                f32_tensor(&r, &format!("unet.{s}.out_sample")),
            );
        }
    }
}
