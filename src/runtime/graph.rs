//! One ONNX graph in one session, with the model folder's I/O contract checked at load.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use half::f16;
use ndarray::{ArrayD, IxDyn};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType};

use super::RuntimeError;
use super::provider::{ProviderKind, ProviderOptions};
use crate::models::manifest::{Graph, GraphProvider, Precision};

/// A tensor handed to a graph. `F32` tensors are converted to the graph's precision on the way in when
/// the contract says [`Kind::Float`], and passed unconverted to a [`Kind::Float32`] input.
pub enum Input {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

/// What a graph must expose: its input names (with element kind) and output names.
pub struct Contract {
    pub inputs: &'static [(&'static str, Kind)],
    pub outputs: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Floating point in the graph's precision (f32 or f16, per the manifest).
    Float,
    /// Always f32, whatever the graph's precision (the UNet's `timestep`).
    Float32,
    Int64,
}

pub struct GraphSession {
    pub name: &'static str,
    /// This graph's slot in the process-wide [`graph_times`] clock.
    slot: Option<usize>,
    session: Session,
    precision: Precision,
    /// The contract's inputs with their kinds, checked against the graph at load.
    inputs: Vec<(&'static str, Kind)>,
    outputs: Vec<String>,
    /// IoBinding with device buffers (the UNet on a GPU).
    bound: Option<super::bound::Bound>,
}

impl GraphSession {
    /// Create the session on `kind` and check the graph against its contract.
    pub fn open(
        name: &'static str,
        root: &Path,
        graph: &Graph,
        contract: &Contract,
        opts: &ProviderOptions,
        kind: ProviderKind,
    ) -> Result<Self, RuntimeError> {
        if graph.provider == GraphProvider::Cuda && !kind.is_gpu() {
            return Err(RuntimeError::Contract {
                graph: name,
                message: format!(
                    "{} was built for the CUDA provider (fused operators) and cannot run on {kind}",
                    graph.file
                ),
            });
        }
        let path = root.join(&graph.file);
        let provider_err = |e: ort::Error| RuntimeError::Provider {
            kind,
            message: e.to_string(),
        };
        let env = super::library::environment()?;
        let mut builder = Session::builder(env).map_err(provider_err)?;
        builder = builder
            .with_execution_providers(opts.dispatches(kind))
            .map_err(|e| provider_err(e.into()))?;
        if opts.intra_threads > 0 {
            builder = builder
                .with_intra_threads(opts.intra_threads)
                .map_err(|e| provider_err(e.into()))?;
        }
        let session = builder.commit_from_file(&path).map_err(|e| RuntimeError::Session {
            graph: name,
            file: graph.file.clone(),
            message: e.to_string(),
        })?;
        let me = Self {
            name,
            slot: GRAPH_NAMES.iter().position(|n| *n == name),
            precision: graph.precision,
            inputs: vec![],
            outputs: vec![],
            session,
            bound: None,
        };
        me.check(contract, &graph.file)
    }

    fn check(mut self, contract: &Contract, file: &str) -> Result<Self, RuntimeError> {
        let float = match self.precision {
            Precision::Fp32 => TensorElementType::Float32,
            Precision::Fp16 => TensorElementType::Float16,
        };
        let bad = |message: String| RuntimeError::Contract {
            graph: self.name,
            message: format!("{file}: {message}"),
        };
        for (input, kind) in contract.inputs {
            let Some(outlet) = self.session.inputs().iter().find(|o| o.name() == *input) else {
                return Err(bad(format!("has no input {input:?}")));
            };
            let want = match kind {
                Kind::Float => float,
                Kind::Float32 => TensorElementType::Float32,
                Kind::Int64 => TensorElementType::Int64,
            };
            if outlet.dtype().tensor_type() != Some(want) {
                let why = match kind {
                    Kind::Float => "the manifest's precision",
                    Kind::Float32 | Kind::Int64 => "the contract",
                };
                return Err(bad(format!(
                    "input {input:?} is {:?}, expected {want:?} ({why})",
                    outlet.dtype()
                )));
            }
        }
        if self.session.inputs().len() != contract.inputs.len() {
            let names: Vec<_> = self.session.inputs().iter().map(|o| o.name().to_string()).collect();
            return Err(bad(format!("expected inputs {:?}, found {names:?}", contract.inputs)));
        }
        for output in contract.outputs {
            let Some(outlet) = self.session.outputs().iter().find(|o| o.name() == *output) else {
                return Err(bad(format!("has no output {output:?}")));
            };
            if outlet.dtype().tensor_type() != Some(float) {
                return Err(bad(format!(
                    "output {output:?} is {:?}, the manifest says {float:?}",
                    outlet.dtype()
                )));
            }
        }
        self.inputs = contract.inputs.to_vec();
        self.outputs = contract.outputs.iter().map(|s| s.to_string()).collect();
        Ok(self)
    }

    /// Use IoBinding with device-resident buffers for this graph from now on.
    pub fn bind(&mut self, opts: super::bound::BoundOptions) -> Result<(), RuntimeError> {
        let b = super::bound::Bound::new(&self.session, opts).map_err(|message| RuntimeError::Run {
            graph: self.name,
            message,
        })?;
        self.bound = Some(b);
        Ok(())
    }

    pub fn is_bound(&self) -> bool {
        self.bound.is_some()
    }

    /// Run a single-output graph through its bound buffers (see [`GraphSession::bind`]);
    /// `out_shape` is the output's shape for these inputs.
    pub fn run_bound(
        &mut self,
        inputs: Vec<(&'static str, Input)>,
        out_shape: &[usize],
    ) -> Result<ArrayD<f32>, RuntimeError> {
        let name = self.name;
        let (Some(bound), Some(output)) = (self.bound.as_mut(), self.outputs.first()) else {
            return Err(RuntimeError::Run {
                graph: name,
                message: "the graph has no bound buffers".into(),
            });
        };
        bound
            .run(
                &mut self.session,
                &self.inputs,
                output,
                inputs,
                out_shape,
                self.precision,
            )
            .map_err(|message| RuntimeError::run(name, message))
    }

    /// Run the graph; returns the contract's outputs, in order, as f32.
    pub fn run(&mut self, inputs: Vec<(&'static str, Input)>) -> Result<Vec<ArrayD<f32>>, RuntimeError> {
        let name = self.name;
        let called = Instant::now();
        let err = |e: ort::Error| RuntimeError::run(name, e.to_string());
        let mut values: Vec<(std::borrow::Cow<'static, str>, ort::session::SessionInputValue<'static>)> =
            Vec::with_capacity(inputs.len());
        for (n, input) in inputs {
            let kind = self.inputs.iter().find(|(name, _)| *name == n).map(|(_, k)| *k);
            let v: ort::value::DynValue = match (input, kind, self.precision) {
                (Input::F32(a), Some(Kind::Float), Precision::Fp16) => {
                    Tensor::from_array(a.mapv(f16::from_f32)).map_err(err)?.into_dyn()
                }
                (Input::F32(a), Some(Kind::Float | Kind::Float32), _) => Tensor::from_array(a).map_err(err)?.into_dyn(),
                (Input::I64(a), Some(Kind::Int64), _) => Tensor::from_array(a).map_err(err)?.into_dyn(),
                (input, kind, _) => {
                    let given = match input {
                        Input::F32(_) => "an f32",
                        Input::I64(_) => "an i64",
                    };
                    let message = match kind {
                        Some(kind) => format!("input {n:?} is {kind:?}, {given} tensor was given"),
                        None => format!("{n:?} is not an input of this graph"),
                    };
                    return Err(RuntimeError::Run { graph: name, message });
                }
            };
            values.push((n.into(), v.into()));
        }
        let ran = Instant::now();
        let outputs = self.session.run(values).map_err(err)?;
        let ort_time = ran.elapsed();
        let mut out = Vec::with_capacity(self.outputs.len());
        for o in &self.outputs {
            let value = &outputs[o.as_str()];
            let array = match self.precision {
                Precision::Fp32 => value.try_extract_array::<f32>().map_err(err)?.to_owned(),
                Precision::Fp16 => value.try_extract_array::<f16>().map_err(err)?.mapv(f16::to_f32),
            };
            out.push(array.into_dimensionality::<IxDyn>().map_err(|e| RuntimeError::Run {
                graph: name,
                message: e.to_string(),
            })?);
        }
        record(self.slot, ort_time, called.elapsed());
        Ok(out)
    }
}

/// Time spent per graph since the process started, summed over every session of that graph (all
/// devices). `sdgate bench` reads it to split a job's time between ONNX Runtime and everything else.
/// Cost: two clock reads and three relaxed atomic adds per graph run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GraphTime {
    /// Completed runs.
    pub calls: u64,
    /// Nanoseconds inside `Session::run`: ONNX Runtime, including its host↔device copies.
    pub ort_ns: u64,
    /// Nanoseconds in [`GraphSession::run`]: `ort_ns` plus building the input tensors (f32 → f16 for
    /// fp16 graphs) and copying the outputs out (f16 → f32).
    pub call_ns: u64,
}

impl GraphTime {
    /// What was added between `earlier` and `self`.
    pub fn since(self, earlier: GraphTime) -> GraphTime {
        GraphTime {
            calls: self.calls.saturating_sub(earlier.calls),
            ort_ns: self.ort_ns.saturating_sub(earlier.ort_ns),
            call_ns: self.call_ns.saturating_sub(earlier.call_ns),
        }
    }
}

/// The graphs of an engine, in the order of [`graph_times`].
pub const GRAPH_NAMES: [&str; 4] = ["text_encoder", "unet", "vae_encoder", "vae_decoder"];

struct Counter {
    calls: AtomicU64,
    ort_ns: AtomicU64,
    call_ns: AtomicU64,
}

static CLOCK: [Counter; 4] = [const {
    Counter {
        calls: AtomicU64::new(0),
        ort_ns: AtomicU64::new(0),
        call_ns: AtomicU64::new(0),
    }
}; 4];

/// The cumulative time of each graph of [`GRAPH_NAMES`], in that order.
pub fn graph_times() -> [GraphTime; 4] {
    std::array::from_fn(|i| GraphTime {
        calls: CLOCK[i].calls.load(Ordering::Relaxed),
        ort_ns: CLOCK[i].ort_ns.load(Ordering::Relaxed),
        call_ns: CLOCK[i].call_ns.load(Ordering::Relaxed),
    })
}

fn record(slot: Option<usize>, ort: Duration, call: Duration) {
    let Some(c) = slot.and_then(|i| CLOCK.get(i)) else {
        return;
    };
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    c.calls.fetch_add(1, Ordering::Relaxed);
    c.ort_ns.fetch_add(ns(ort), Ordering::Relaxed);
    c.call_ns.fetch_add(ns(call), Ordering::Relaxed);
}
