//! What a loaded file means: the WebUI's `create_embedding_from_data`.
//! - `{"string_to_param": {"*": tensor[n, dim]}, "name", "step", "sd_checkpoint", ...}`: the WebUI's own
//!   format (a ParameterDict's `_parameters` is read through);
//! - `{"clip_g": tensor[n, 1280], "clip_l": tensor[n, 768]}`: SDXL;
//! - `{token: tensor[dim] or [n, dim]}`: a diffusers concept (exactly one key).

use ndarray::Array2;

use super::TiError;
use super::value::{Tensor, Value};

/// The vectors of one embedding.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingVectors {
    /// `[n_vectors, dim]` for one text encoder.
    Single(Array2<f32>),
    /// SDXL: one set per text encoder, `[n, 768]` and `[n, 1280]`.
    Sdxl { clip_l: Array2<f32>, clip_g: Array2<f32> },
}

impl EmbeddingVectors {
    /// The WebUI's `shape`: the vector width (both widths added for SDXL).
    pub fn shape(&self) -> usize {
        match self {
            EmbeddingVectors::Single(v) => v.ncols(),
            EmbeddingVectors::Sdxl { clip_l, clip_g } => clip_l.ncols() + clip_g.ncols(),
        }
    }

    /// The WebUI's `vectors`: how many tokens the embedding takes.
    pub fn vectors(&self) -> usize {
        match self {
            EmbeddingVectors::Single(v) => v.nrows(),
            EmbeddingVectors::Sdxl { clip_g, .. } => clip_g.nrows(),
        }
    }

    /// The vectors for a text encoder of width `hidden`, if the embedding has them.
    pub fn for_width(&self, hidden: usize) -> Option<&Array2<f32>> {
        match self {
            EmbeddingVectors::Single(v) => (v.ncols() == hidden).then_some(v),
            EmbeddingVectors::Sdxl { clip_l, clip_g } => [clip_l, clip_g].into_iter().find(|v| v.ncols() == hidden),
        }
    }
}

/// The parts of a file the database keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub vectors: EmbeddingVectors,
    pub step: Option<i64>,
    pub sd_checkpoint: Option<String>,
    pub sd_checkpoint_name: Option<String>,
    /// The `name` key (the WebUI uses it for image embeddings only).
    pub name: Option<String>,
}

fn matrix(t: &Tensor, what: &str) -> Result<Array2<f32>, TiError> {
    let (rows, cols) = match t.shape.as_slice() {
        [d] => (1, *d),
        [n, d] => (*n, *d),
        other => return Err(TiError::Format(format!("{what} has shape {other:?}, not [n, dim]"))),
    };
    if rows == 0 || cols == 0 {
        return Err(TiError::Format(format!("{what} is empty")));
    }
    if t.data.iter().any(|x| !x.is_finite()) {
        return Err(TiError::Format(format!("{what} holds NaN or infinite values")));
    }
    Array2::from_shape_vec((rows, cols), t.data.clone()).map_err(|e| TiError::Format(format!("{what}: {e}")))
}

fn only_tensor<'a>(d: &'a Value, what: &str) -> Result<&'a Tensor, TiError> {
    let Value::Dict(pairs) = d else {
        return Err(TiError::Format(format!("{what} is not a dict")));
    };
    match pairs.as_slice() {
        [(_, Value::Tensor(t))] => Ok(t),
        [_] => Err(TiError::Format(format!("{what} does not hold a tensor"))),
        _ => Err(TiError::Format("embedding file has multiple terms in it".into())),
    }
}

pub fn parse(data: &Value) -> Result<Parsed, TiError> {
    let vectors = if let Some(params) = data.get("string_to_param") {
        EmbeddingVectors::Single(matrix(only_tensor(params, "string_to_param")?, "string_to_param")?)
    } else if let (Some(Value::Tensor(g)), Some(Value::Tensor(l))) = (data.get("clip_g"), data.get("clip_l")) {
        let clip_g = matrix(g, "clip_g")?;
        let clip_l = matrix(l, "clip_l")?;
        if clip_g.nrows() != clip_l.nrows() {
            return Err(TiError::Format("clip_g and clip_l have different vector counts".into()));
        }
        EmbeddingVectors::Sdxl { clip_l, clip_g }
    } else if let Value::Dict(pairs) = data
        && matches!(pairs.first(), Some((_, Value::Tensor(_))))
    {
        EmbeddingVectors::Single(matrix(only_tensor(data, "the embedding")?, "the embedding")?)
    } else {
        return Err(TiError::Format(
            "neither a textual inversion embedding nor a diffusers concept".into(),
        ));
    };
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Parsed {
        vectors,
        step: data.get("step").and_then(Value::as_int),
        sd_checkpoint: text("sd_checkpoint"),
        sd_checkpoint_name: text("sd_checkpoint_name"),
        name: text("name"),
    })
}
