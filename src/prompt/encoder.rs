//! The text encoder as the prompt layer sees it, and the token-embedding table it feeds.

use std::path::Path;

use half::{bf16, f16};
use ndarray::{Array2, Array3, ArrayViewMut2};

use super::PromptError;

/// The runtime's text encoder (an ONNX session on the device thread).
pub trait TextEncoder {
    /// `inputs_embeds`: token embeddings `[n, 77, hidden]` *without* position embeddings (the
    /// graph adds them). Returns `final_layer_norm(hidden_states[-layer_from_end])`, `[n, 77, hidden]`
    /// (`layer_from_end` 1 = the last layer; the WebUI's CLIP skip N is `layer_from_end = N`).
    fn encode(&mut self, inputs_embeds: Array3<f32>, layer_from_end: usize) -> Result<Array3<f32>, PromptError>;
}

/// The text encoder's token-embedding table `[vocab, hidden]`.
#[derive(Debug, Clone)]
pub struct TokenEmbeddings {
    table: Array2<f32>,
}

/// The tensor's name in the model folder's safetensors file.
pub const TOKEN_EMBEDDING_TENSOR: &str = "token_embedding";

impl TokenEmbeddings {
    pub fn from_array(table: Array2<f32>) -> Result<Self, PromptError> {
        if table.nrows() == 0 || table.ncols() == 0 {
            return Err(PromptError::TokenEmbeddings("the table is empty".into()));
        }
        Ok(Self { table })
    }

    /// Load tensor `token_embedding` (f32, f16 or bf16) from a safetensors file.
    pub fn from_safetensors_file(path: &Path) -> Result<Self, PromptError> {
        let bytes =
            std::fs::read(path).map_err(|e| PromptError::TokenEmbeddings(format!("{}: {e}", path.display())))?;
        Self::from_safetensors_bytes(&bytes)
    }

    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self, PromptError> {
        use safetensors::Dtype as D;
        let err = |m: String| PromptError::TokenEmbeddings(m);
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
        let view = st
            .tensor(TOKEN_EMBEDDING_TENSOR)
            .map_err(|e| err(format!("tensor {TOKEN_EMBEDDING_TENSOR}: {e}")))?;
        let &[rows, cols] = view.shape() else {
            return Err(err(format!("{TOKEN_EMBEDDING_TENSOR} has shape {:?}", view.shape())));
        };
        let d = view.data();
        let values: Vec<f32> = match view.dtype() {
            D::F32 => d
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            D::F16 => d
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            D::BF16 => d
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => return Err(err(format!("{TOKEN_EMBEDDING_TENSOR} has dtype {other:?}"))),
        };
        let table = Array2::from_shape_vec((rows, cols), values).map_err(|e| err(e.to_string()))?;
        Self::from_array(table)
    }

    pub fn hidden_size(&self) -> usize {
        self.table.ncols()
    }

    pub fn vocab_size(&self) -> usize {
        self.table.nrows()
    }

    /// Write the embeddings of `ids` into the rows of `out` (`[ids.len(), hidden]`).
    pub fn lookup_into(&self, ids: &[u32], mut out: ArrayViewMut2<'_, f32>) -> Result<(), PromptError> {
        for (i, &id) in ids.iter().enumerate() {
            if (id as usize) >= self.table.nrows() {
                return Err(PromptError::TokenEmbeddings(format!(
                    "token id {id} is outside the vocabulary"
                )));
            }
            out.row_mut(i).assign(&self.table.row(id as usize));
        }
        Ok(())
    }
}
