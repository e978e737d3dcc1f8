//! A plain tree of the values an embedding file holds, whatever its format (pickle, JSON,
//! safetensors), with tensors materialized as f32.

use half::{bf16, f16};

use super::TiError;
use super::pickle::{Dtype, Id, Obj, TensorRef, Unpickled};

/// A dense tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// Keys as they were (strings for every layout we read).
    Dict(Vec<(Value, Value)>),
    Tensor(Tensor),
    /// Something we do not need (bytes, sets, dtypes...), by kind.
    Other(&'static str),
}

impl Value {
    /// `d.get(key)` for a dict with string keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 32;
const MAX_VALUES: usize = 1 << 20;

/// Turn an unpickled arena into a tree; `storage(key)` gives a storage's raw bytes.
pub fn from_pickle<'a>(u: &Unpickled, storage: &dyn Fn(&str) -> Option<&'a [u8]>) -> Result<Value, TiError> {
    let mut budget = MAX_VALUES;
    convert(u, u.root, storage, 0, &mut budget)
}

fn convert<'a>(
    u: &Unpickled,
    id: Id,
    storage: &dyn Fn(&str) -> Option<&'a [u8]>,
    depth: usize,
    budget: &mut usize,
) -> Result<Value, TiError> {
    if depth > MAX_DEPTH {
        return Err(TiError::Pickle("values nested too deeply (or a cycle)".into()));
    }
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| TiError::Pickle("too many values".into()))?;
    let list = |items: &[Id], budget: &mut usize| -> Result<Vec<Value>, TiError> {
        items
            .iter()
            .map(|&i| convert(u, i, storage, depth + 1, budget))
            .collect()
    };
    Ok(match u.get(id) {
        Obj::None => Value::None,
        Obj::Bool(b) => Value::Bool(*b),
        Obj::Int(i) => Value::Int(*i),
        Obj::BigInt(_) => Value::Other("a big int"),
        Obj::Float(f) => Value::Float(*f),
        Obj::Str(s) => Value::Str(s.clone()),
        Obj::Bytes(_) => Value::Other("bytes"),
        Obj::Tuple(v) | Obj::List(v) => Value::List(list(v, budget)?),
        Obj::Set(_) => Value::Other("a set"),
        Obj::Dict(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for &(k, v) in pairs {
                let k = convert(u, k, storage, depth + 1, budget)?;
                let v = convert(u, v, storage, depth + 1, budget)?;
                out.push((k, v));
            }
            Value::Dict(out)
        }
        Obj::Tensor(t) => Value::Tensor(materialize(t, storage)?),
        // A ParameterDict: the WebUI reads its `_parameters`.
        Obj::Object { state } => match state {
            Some(s) => {
                let state = convert(u, *s, storage, depth + 1, budget)?;
                match state.get("_parameters") {
                    Some(p) => p.clone(),
                    None => state,
                }
            }
            None => Value::Dict(Vec::new()),
        },
        Obj::Global(_) => Value::Other("a class or function"),
        Obj::Storage(_) => Value::Other("a storage"),
        Obj::NumpyDtype(_) => Value::Other("a numpy dtype"),
    })
}

/// Gather a (possibly strided) tensor view out of its storage.
fn materialize<'a>(t: &TensorRef, storage: &dyn Fn(&str) -> Option<&'a [u8]>) -> Result<Tensor, TiError> {
    let bad = |m: &str| TiError::Pickle(format!("tensor: {m}"));
    let bytes = storage(&t.storage.key).ok_or_else(|| bad(&format!("storage {:?} missing", t.storage.key)))?;
    let es = t.storage.dtype.size();
    let (base, available) = match t.storage.view {
        Some((offset, numel)) => (offset, numel),
        None => (0, t.storage.numel),
    };
    let storage_numel = bytes.len() / es;
    if base.checked_add(available).is_none_or(|end| end > storage_numel) {
        return Err(bad("storage shorter than declared"));
    }
    let numel: usize = t.size.iter().product();
    if numel > 0 {
        let last = t.size.iter().zip(&t.stride).try_fold(t.offset, |acc, (&s, &st)| {
            (s - 1).checked_mul(st).and_then(|x| acc.checked_add(x))
        });
        if last.is_none_or(|l| l >= available) {
            return Err(bad("view reaches outside its storage"));
        }
    }
    let mut data = Vec::with_capacity(numel);
    let mut index = vec![0usize; t.size.len()];
    for _ in 0..numel {
        let pos = base + t.offset + index.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        data.push(read_element(&bytes[pos * es..(pos + 1) * es], t.storage.dtype));
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.size[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(Tensor {
        shape: t.size.clone(),
        data,
    })
}

pub fn read_element(b: &[u8], dtype: Dtype) -> f32 {
    let a2 = || [b[0], b[1]];
    let a4 = || [b[0], b[1], b[2], b[3]];
    let a8 = || [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
    match dtype {
        Dtype::F32 => f32::from_le_bytes(a4()),
        Dtype::F16 => f16::from_le_bytes(a2()).to_f32(),
        Dtype::BF16 => bf16::from_le_bytes(a2()).to_f32(),
        Dtype::F64 => f64::from_le_bytes(a8()) as f32,
        Dtype::I64 => i64::from_le_bytes(a8()) as f32,
        Dtype::I32 => i32::from_le_bytes(a4()) as f32,
        Dtype::I16 => i16::from_le_bytes(a2()) as f32,
        Dtype::I8 => f32::from(b[0] as i8),
        Dtype::U8 => f32::from(b[0]),
        Dtype::Bool => f32::from(u8::from(b[0] != 0)),
    }
}

/// A JSON document (the image embedding format) as a tree: `{"TORCHTENSOR": nested lists}` objects
/// are tensors, as the WebUI's `EmbeddingDecoder` reads them.
pub fn from_json(v: &serde_json::Value) -> Result<Value, TiError> {
    let mut budget = MAX_VALUES;
    json(v, 0, &mut budget)
}

fn json(v: &serde_json::Value, depth: usize, budget: &mut usize) -> Result<Value, TiError> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(TiError::Format("JSON nested too deeply".into()));
    }
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| TiError::Format("too many JSON values".into()))?;
    Ok(match v {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::List(a.iter().map(|x| json(x, depth + 1, budget)).collect::<Result<_, _>>()?),
        J::Object(o) => {
            if let Some(t) = o.get("TORCHTENSOR") {
                return Ok(Value::Tensor(json_tensor(t)?));
            }
            let mut pairs = Vec::with_capacity(o.len());
            for (k, x) in o {
                pairs.push((Value::Str(k.clone()), json(x, depth + 1, budget)?));
            }
            Value::Dict(pairs)
        }
    })
}

/// Nested lists of numbers → a tensor (the lists must be rectangular).
fn json_tensor(v: &serde_json::Value) -> Result<Tensor, TiError> {
    let mut shape = Vec::new();
    let mut probe = v;
    while let serde_json::Value::Array(a) = probe {
        shape.push(a.len());
        if shape.len() > 8 {
            return Err(TiError::Format("tensor has too many dimensions".into()));
        }
        match a.first() {
            Some(first) => probe = first,
            None => break,
        }
    }
    let mut data = Vec::new();
    flatten(v, &shape, 0, &mut data)?;
    Ok(Tensor { shape, data })
}

fn flatten(v: &serde_json::Value, shape: &[usize], d: usize, out: &mut Vec<f32>) -> Result<(), TiError> {
    let ragged = || TiError::Format("tensor lists are not rectangular".into());
    match v {
        serde_json::Value::Array(a) => {
            if d >= shape.len() || a.len() != shape[d] {
                return Err(ragged());
            }
            for x in a {
                flatten(x, shape, d + 1, out)?;
            }
            Ok(())
        }
        serde_json::Value::Number(n) if d == shape.len() => {
            out.push(n.as_f64().unwrap_or(f64::NAN) as f32);
            Ok(())
        }
        _ => Err(ragged()),
    }
}
