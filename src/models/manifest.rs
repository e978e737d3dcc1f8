//! `model.json`: everything about a model folder that the runtime must not guess.
//! The contract is documented in `onnx/README.md`; keep the two in step.

use serde::{Deserialize, Serialize};

use super::ModelError;

/// The manifest format this build reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    /// Display name (the WebUI's model_name).
    pub name: String,
    pub family: Family,
    pub prediction_type: PredictionType,
    /// Channels of the latent space (4 for SD 1.x/2.x/XL).
    pub latent_channels: usize,
    /// Input channels of the UNet: `latent_channels`, or `latent_channels * 2 + 1` for inpainting models.
    pub unet_in_channels: usize,
    /// Pixels per latent cell along each axis (8 for the real VAE, 2 for the tiny fixture).
    pub vae_scale_factor: usize,
    /// Latents are `vae_encoder_mean * vae_scaling_factor` (0.18215 for SD 1.x).
    pub vae_scaling_factor: f32,
    /// The native image size of the model (512 for SD 1.x).
    pub default_image_size: usize,
    pub text: TextConfig,
    pub scheduler: SchedulerConfig,
    pub graphs: Graphs,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Sd1,
    Sd2,
    Sdxl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PredictionType {
    Epsilon,
    V,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// Width of the token embeddings and the hidden states (768 for SD 1.x).
    pub hidden_size: usize,
    /// Tokens per chunk, BOS and EOS included (77).
    pub max_length: usize,
    /// Transformer layers; CLIP skip may choose 1..=num_hidden_layers.
    pub num_hidden_layers: usize,
    pub vocab_size: usize,
    pub bos_token_id: u32,
    pub eos_token_id: u32,
    /// Padding after EOS: EOS for SD 1.x, 0 (`!`) for SD 2.x.
    pub pad_token_id: u32,
    /// Path (relative to the folder) of the tokenizer (HF tokenizers JSON).
    pub tokenizer: String,
    /// Path of the token-embedding table `[vocab_size, hidden_size]` (safetensors, tensor
    /// `token_embedding`), looked up by the runtime so it can splice textual-inversion vectors.
    pub token_embeddings: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    /// `scaled_linear` (SD) or `linear`.
    pub beta_schedule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graphs {
    pub text_encoder: Graph,
    pub unet: Graph,
    pub vae_encoder: Graph,
    pub vae_decoder: Graph,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graph {
    /// Path of the .onnx file, relative to the model folder.
    pub file: String,
    /// Element type of the graph's float inputs and outputs.
    pub precision: Precision,
    /// The execution provider the graph was built for: `any` (plain ONNX) or `cuda` (fused ops that
    /// only the CUDA provider implements).
    pub provider: GraphProvider,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Fp16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphProvider {
    Any,
    Cuda,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// File name of the checkpoint the folder was exported from (or the diffusers folder name).
    pub file_name: String,
    /// SHA-256 of that file, 64 hex digits (`None` when exported from a diffusers folder or random weights).
    pub sha256: Option<String>,
    /// The WebUI's short hash: the first 10 hex digits of `sha256`.
    pub short_hash: Option<String>,
}

impl Manifest {
    /// Parse and check a manifest; every rule the runtime relies on is checked here.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| ModelError::Manifest(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<(), ModelError> {
        let bad = |msg: String| Err(ModelError::Manifest(msg));
        if self.format_version != FORMAT_VERSION {
            return bad(format!(
                "format_version {} is not supported (this build reads {FORMAT_VERSION})",
                self.format_version
            ));
        }
        if self.latent_channels == 0 || self.latent_channels > 64 {
            return bad(format!("latent_channels {} is out of range", self.latent_channels));
        }
        let c = self.latent_channels;
        if self.unet_in_channels != c && self.unet_in_channels != 2 * c + 1 {
            return bad(format!(
                "unet_in_channels {} must be latent_channels ({c}) or an inpainting model's {}",
                self.unet_in_channels,
                2 * c + 1
            ));
        }
        if !(1..=64).contains(&self.vae_scale_factor) || !self.vae_scale_factor.is_power_of_two() {
            return bad(format!(
                "vae_scale_factor {} must be a power of two up to 64",
                self.vae_scale_factor
            ));
        }
        if !(self.vae_scaling_factor.is_finite() && self.vae_scaling_factor > 0.0) {
            return bad(format!(
                "vae_scaling_factor {} must be a positive number",
                self.vae_scaling_factor
            ));
        }
        if self.default_image_size == 0 || !self.default_image_size.is_multiple_of(self.vae_scale_factor) {
            return bad(format!(
                "default_image_size {} must be a positive multiple of vae_scale_factor",
                self.default_image_size
            ));
        }
        let t = &self.text;
        if t.hidden_size == 0 || t.max_length < 3 || t.num_hidden_layers == 0 || t.vocab_size == 0 {
            return bad("text: hidden_size, max_length, num_hidden_layers and vocab_size must be positive".into());
        }
        for (what, id) in [
            ("bos", t.bos_token_id),
            ("eos", t.eos_token_id),
            ("pad", t.pad_token_id),
        ] {
            if id as usize >= t.vocab_size {
                return bad(format!(
                    "text: {what}_token_id {id} is outside the vocabulary ({})",
                    t.vocab_size
                ));
            }
        }
        let s = &self.scheduler;
        if s.num_train_timesteps < 2 || s.num_train_timesteps > 100_000 {
            return bad(format!(
                "scheduler: num_train_timesteps {} is out of range",
                s.num_train_timesteps
            ));
        }
        if !(s.beta_start > 0.0 && s.beta_end > s.beta_start && s.beta_end < 1.0) {
            return bad("scheduler: need 0 < beta_start < beta_end < 1".into());
        }
        if !matches!(s.beta_schedule.as_str(), "scaled_linear" | "linear") {
            return bad(format!(
                "scheduler: beta_schedule {:?} is not scaled_linear or linear",
                s.beta_schedule
            ));
        }
        if let Some(sha) = &self.source.sha256
            && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return bad("source.sha256 must be 64 hex digits".into());
        }
        if let Some(short) = &self.source.short_hash
            && (short.len() != 10 || !short.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return bad("source.short_hash must be 10 hex digits".into());
        }
        for path in self.relative_paths() {
            check_relative(path)?;
        }
        Ok(())
    }

    /// Every file the manifest names, relative to the model folder.
    pub fn relative_paths(&self) -> Vec<&str> {
        let g = &self.graphs;
        vec![
            &self.text.tokenizer,
            &self.text.token_embeddings,
            &g.text_encoder.file,
            &g.unet.file,
            &g.vae_encoder.file,
            &g.vae_decoder.file,
        ]
        .into_iter()
        .map(String::as_str)
        .collect()
    }

    /// True for 9-channel inpainting UNets (latents, mask, masked-image latents).
    pub fn is_inpainting(&self) -> bool {
        self.unet_in_channels == 2 * self.latent_channels + 1
    }
}

/// A path in a manifest must stay inside the model folder.
fn check_relative(path: &str) -> Result<(), ModelError> {
    let p = std::path::Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(ModelError::Manifest(format!(
            "path {path:?} must be relative and stay inside the model folder"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> serde_json::Value {
        serde_json::json!({
            "format_version": 1,
            "name": "tiny-sd1",
            "family": "sd1",
            "prediction_type": "epsilon",
            "latent_channels": 4,
            "unet_in_channels": 4,
            "vae_scale_factor": 2,
            "vae_scaling_factor": 0.18215,
            "default_image_size": 64,
            "text": {
                "hidden_size": 32, "max_length": 77, "num_hidden_layers": 5, "vocab_size": 49408,
                "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407,
                "tokenizer": "tokenizer/tokenizer.json",
                "token_embeddings": "text_encoder/token_embedding.safetensors"
            },
            "scheduler": {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                          "beta_schedule": "scaled_linear"},
            "graphs": {
                "text_encoder": {"file": "text_encoder/model.onnx", "precision": "fp32", "provider": "any"},
                "unet": {"file": "unet/model.onnx", "precision": "fp32", "provider": "any"},
                "vae_encoder": {"file": "vae_encoder/model.onnx", "precision": "fp32", "provider": "any"},
                "vae_decoder": {"file": "vae_decoder/model.onnx", "precision": "fp32", "provider": "any"}
            },
            "source": {"file_name": "tiny-sd1.safetensors", "sha256": null, "short_hash": null}
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Manifest, ModelError> {
        Manifest::parse(&v.to_string())
    }

    #[test]
    fn accepts_the_sample() {
        let m = parse(&sample()).unwrap();
        assert_eq!(m.vae_scale_factor, 2);
        assert!(!m.is_inpainting());
    }

    #[test]
    fn refuses_what_the_runtime_cannot_guess() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("/format_version", 2.into(), "format_version"),
            ("/unet_in_channels", 5.into(), "unet_in_channels"),
            ("/vae_scale_factor", 3.into(), "vae_scale_factor"),
            ("/vae_scaling_factor", (-1.0).into(), "vae_scaling_factor"),
            ("/text/eos_token_id", 50000.into(), "eos_token_id"),
            (
                "/graphs/unet/file",
                "../../etc/passwd".into(),
                "inside the model folder",
            ),
            ("/graphs/unet/file", "/etc/passwd".into(), "inside the model folder"),
            ("/family", "sd9".into(), "sd9"),
            ("/source/short_hash", "xyz".into(), "short_hash"),
        ];
        for (pointer, value, needle) in cases {
            let mut v = sample();
            *v.pointer_mut(pointer).unwrap() = value;
            let err = parse(&v).unwrap_err().to_string();
            assert!(err.contains(needle), "{pointer}: {err}");
        }
    }

    #[test]
    fn refuses_unknown_fields() {
        let mut v = sample();
        v.as_object_mut().unwrap().insert("surprise".into(), 1.into());
        assert!(parse(&v).unwrap_err().to_string().contains("surprise"));
    }
}
