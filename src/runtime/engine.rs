//! A loaded model: the four graphs of a model folder in sessions on one device.
//! Only a device worker owns an `Engine`; nothing else touches a session.

use ndarray::{Array3, Array4, ArrayD, Ix3, Ix4};

use super::RuntimeError;
use super::bound::{BoundOptions, BufferDevice};
use super::graph::{Contract, GraphSession, Input, Kind};
use super::provider::{ProviderKind, ProviderOptions};
use crate::models::ModelFolder;

const TEXT_ENCODER: Contract = Contract {
    inputs: &[("inputs_embeds", Kind::Float), ("layer_from_end", Kind::Int64)],
    outputs: &["hidden_states"],
};
const UNET: Contract = Contract {
    inputs: &[
        ("sample", Kind::Float),
        ("timestep", Kind::Float32),
        ("encoder_hidden_states", Kind::Float),
    ],
    outputs: &["out_sample"],
};
const VAE_ENCODER: Contract = Contract {
    inputs: &[("sample", Kind::Float)],
    outputs: &["latent_parameters"],
};
const VAE_DECODER: Contract = Contract {
    inputs: &[("latent_sample", Kind::Float)],
    outputs: &["sample"],
};

pub struct Engine {
    pub folder: ModelFolder,
    /// The provider the sessions actually run on (after any fallback).
    pub provider: ProviderKind,
    text_encoder: GraphSession,
    unet: GraphSession,
    vae_encoder: GraphSession,
    vae_decoder: GraphSession,
}

impl Engine {
    /// Create the sessions, falling back along TensorRT → CUDA → CPU only when `opts.fallback` is set.
    pub fn load(folder: ModelFolder, opts: &ProviderOptions) -> Result<Self, RuntimeError> {
        let mut kind = opts.kind;
        let mut opts = std::borrow::Cow::Borrowed(opts);
        loop {
            match Self::load_on(&folder, &opts, kind) {
                Ok(parts) => {
                    let [text_encoder, mut unet, vae_encoder, vae_decoder] = parts;
                    if opts.io_binding {
                        let device = if kind.is_gpu() {
                            BufferDevice::Cuda(opts.device_id)
                        } else {
                            BufferDevice::Cpu
                        };
                        unet.bind(BoundOptions {
                            device,
                            cuda_graph: opts.cuda_graph && kind.is_gpu(),
                            max_graphs: opts.max_cuda_graphs,
                            max_buckets: opts.max_cuda_graphs.max(8) * 2,
                        })?;
                    }
                    return Ok(Self {
                        folder,
                        provider: kind,
                        text_encoder,
                        unet,
                        vae_encoder,
                        vae_decoder,
                    });
                }
                // ONNX Runtime captures CUDA graphs only when every node runs on the CUDA provider;
                // a graph with CPU nodes (shape arithmetic of plain exports) runs without them.
                Err(RuntimeError::Session {
                    graph: "unet", message, ..
                }) if opts.cuda_graph && message.contains("graph capture") => {
                    tracing::warn!("CUDA graphs are not possible for this UNet ({message}); running without them");
                    opts = std::borrow::Cow::Owned(ProviderOptions {
                        cuda_graph: false,
                        ..opts.into_owned()
                    });
                }
                Err(RuntimeError::Provider { kind: failed, message }) if opts.fallback => {
                    let Some(next) = failed.fallback() else {
                        return Err(RuntimeError::Provider { kind: failed, message });
                    };
                    tracing::warn!("execution provider {failed} cannot start ({message}); falling back to {next}");
                    kind = next;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn load_on(
        folder: &ModelFolder,
        opts: &ProviderOptions,
        kind: ProviderKind,
    ) -> Result<[GraphSession; 4], RuntimeError> {
        let g = &folder.manifest.graphs;
        let root = &folder.root;
        // CUDA graphs only for the UNet: it alone runs through fixed IoBinding buffers.
        let plain = ProviderOptions {
            cuda_graph: false,
            ..opts.clone()
        };
        Ok([
            GraphSession::open("text_encoder", root, &g.text_encoder, &TEXT_ENCODER, &plain, kind)?,
            GraphSession::open("unet", root, &g.unet, &UNET, opts, kind)?,
            GraphSession::open("vae_encoder", root, &g.vae_encoder, &VAE_ENCODER, &plain, kind)?,
            GraphSession::open("vae_decoder", root, &g.vae_decoder, &VAE_DECODER, &plain, kind)?,
        ])
    }

    /// Token embeddings `[n, 77, hidden]` → `final_layer_norm(hidden_states[-layer_from_end])`.
    pub fn encode_text(
        &mut self,
        inputs_embeds: Array3<f32>,
        layer_from_end: usize,
    ) -> Result<Array3<f32>, RuntimeError> {
        let layer = ArrayD::from_shape_vec(vec![1], vec![layer_from_end as i64]).map_err(shape_err("text_encoder"))?;
        let out = self.text_encoder.run(vec![
            ("inputs_embeds", Input::F32(inputs_embeds.into_dyn())),
            ("layer_from_end", Input::I64(layer)),
        ])?;
        first(out, "text_encoder")?
            .into_dimensionality::<Ix3>()
            .map_err(shape_err("text_encoder"))
    }

    /// One UNet evaluation: `sample [B, C, h, w]`, per-row `timesteps [B]`, conditioning `[B, S, hidden]`.
    pub fn unet(
        &mut self,
        sample: Array4<f32>,
        timesteps: Vec<f32>,
        context: Array3<f32>,
    ) -> Result<Array4<f32>, RuntimeError> {
        let t = ArrayD::from_shape_vec(vec![timesteps.len()], timesteps).map_err(shape_err("unet"))?;
        let s = sample.shape();
        let out_shape = [s[0], self.folder.manifest.latent_channels, s[2], s[3]];
        let inputs = vec![
            ("sample", Input::F32(sample.into_dyn())),
            ("timestep", Input::F32(t)),
            ("encoder_hidden_states", Input::F32(context.into_dyn())),
        ];
        let out = if self.unet.is_bound() {
            self.unet.run_bound(inputs, &out_shape)?
        } else {
            first(self.unet.run(inputs)?, "unet")?
        };
        out.into_dimensionality::<Ix4>().map_err(shape_err("unet"))
    }

    /// Image `[B, 3, H, W]` in [-1, 1] → `[B, 2C, H/f, W/f]` (mean, then log-variance; unscaled).
    pub fn vae_encode(&mut self, image: Array4<f32>) -> Result<Array4<f32>, RuntimeError> {
        let out = self.vae_encoder.run(vec![("sample", Input::F32(image.into_dyn()))])?;
        first(out, "vae_encoder")?
            .into_dimensionality::<Ix4>()
            .map_err(shape_err("vae_encoder"))
    }

    /// Unscaled latents `[B, C, h, w]` → image `[B, 3, h·f, w·f]` in about [-1, 1].
    pub fn vae_decode(&mut self, latents: Array4<f32>) -> Result<Array4<f32>, RuntimeError> {
        let out = self
            .vae_decoder
            .run(vec![("latent_sample", Input::F32(latents.into_dyn()))])?;
        first(out, "vae_decoder")?
            .into_dimensionality::<Ix4>()
            .map_err(shape_err("vae_decoder"))
    }
}

fn first(mut v: Vec<ArrayD<f32>>, graph: &'static str) -> Result<ArrayD<f32>, RuntimeError> {
    v.pop().ok_or(RuntimeError::Run {
        graph,
        message: "no output".into(),
    })
}

fn shape_err(graph: &'static str) -> impl Fn(ndarray::ShapeError) -> RuntimeError {
    move |e| RuntimeError::Run {
        graph,
        message: format!("unexpected output shape: {e}"),
    }
}

/// The prompt layer's text encoder, answered by this engine's text-encoder session.
impl crate::prompt::TextEncoder for Engine {
    fn encode(
        &mut self,
        inputs_embeds: Array3<f32>,
        layer_from_end: usize,
    ) -> Result<Array3<f32>, crate::prompt::PromptError> {
        self.encode_text(inputs_embeds, layer_from_end)
            .map_err(|e| crate::prompt::PromptError::Encoder(e.to_string()))
    }
}
