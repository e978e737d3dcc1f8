//! Running a graph through IoBinding with device-resident buffers, one set per shape bucket, and
//! (on CUDA) one captured CUDA graph per bucket.
//!
//! ONNX Runtime replays a CUDA graph only if every input and output sits at the address it had when
//! the graph was captured, so each bucket owns its buffers: the host data is copied into them before
//! a run and the output copied back after. A bucket's graph id is fixed for the session's life; past
//! `max_graphs` buckets, runs go through the same buffers without a graph (`gpu_graph_id = -1`).

use half::f16;
use ndarray::{ArrayD, IxDyn};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, RunOptions, Session};
use ort::value::{DynTensor, Tensor, TensorElementType};

use super::graph::{Input, Kind};
use crate::models::manifest::Precision;

/// Where bound buffers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferDevice {
    Cpu,
    Cuda(i32),
}

#[derive(Debug, Clone)]
pub struct BoundOptions {
    pub device: BufferDevice,
    pub cuda_graph: bool,
    /// Buckets that get a CUDA graph of their own (each holds its buffers and graph memory).
    pub max_graphs: usize,
    /// Buckets kept at all (least recently used are freed when a graph was not captured for them).
    pub max_buckets: usize,
}

struct Bucket {
    key: Vec<Vec<usize>>,
    binding: IoBinding,
    inputs: Vec<DynTensor>,
    output: DynTensor,
    graph_id: i32,
    last_used: u64,
}

pub struct Bound {
    opts: BoundOptions,
    allocator: Allocator,
    buckets: Vec<Bucket>,
    next_graph: i32,
    clock: u64,
}

type Res<T> = Result<T, String>;

fn e(err: ort::Error) -> String {
    err.to_string()
}

impl Bound {
    pub fn new(session: &Session, opts: BoundOptions) -> Res<Self> {
        let info = match opts.device {
            BufferDevice::Cpu => MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default),
            BufferDevice::Cuda(id) => {
                MemoryInfo::new(AllocationDevice::CUDA, id, AllocatorType::Device, MemoryType::Default)
            }
        }
        .map_err(e)?;
        let allocator = Allocator::new(session, info).map_err(e)?;
        Ok(Self {
            opts,
            allocator,
            buckets: Vec::new(),
            next_graph: 1,
            clock: 0,
        })
    }

    fn float_type(precision: Precision, kind: Kind) -> TensorElementType {
        match (kind, precision) {
            (Kind::Float, Precision::Fp16) => TensorElementType::Float16,
            (Kind::Int64, _) => TensorElementType::Int64,
            _ => TensorElementType::Float32,
        }
    }

    fn bucket(
        &mut self,
        session: &Session,
        names: &[(&'static str, Kind)],
        output: &str,
        key: Vec<Vec<usize>>,
        out_shape: &[usize],
        precision: Precision,
    ) -> Res<usize> {
        self.clock += 1;
        if let Some(i) = self.buckets.iter().position(|b| b.key == key) {
            self.buckets[i].last_used = self.clock;
            return Ok(i);
        }
        // Make room: drop the least recently used bucket that has no captured graph.
        if self.buckets.len() >= self.opts.max_buckets
            && let Some((i, _)) = self
                .buckets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.graph_id < 0)
                .min_by_key(|(_, b)| b.last_used)
        {
            self.buckets.swap_remove(i);
        }
        let mut binding = session.create_binding().map_err(e)?;
        let mut inputs = Vec::with_capacity(names.len());
        for ((name, kind), shape) in names.iter().zip(&key) {
            let t = DynTensor::new(&self.allocator, Self::float_type(precision, *kind), shape.clone()).map_err(e)?;
            binding.bind_input(*name, &t).map_err(e)?;
            inputs.push(t);
        }
        let out = DynTensor::new(
            &self.allocator,
            Self::float_type(precision, Kind::Float),
            out_shape.to_vec(),
        )
        .map_err(e)?;
        let mut out = out;
        binding.bind_output(output, &mut out).map_err(e)?;
        let with_graph = self.opts.cuda_graph
            && matches!(self.opts.device, BufferDevice::Cuda(_))
            && (self.next_graph as usize) <= self.opts.max_graphs;
        let graph_id = if with_graph {
            self.next_graph += 1;
            self.next_graph - 1
        } else {
            -1
        };
        self.buckets.push(Bucket {
            key,
            binding,
            inputs,
            output: out,
            graph_id,
            last_used: self.clock,
        });
        Ok(self.buckets.len() - 1)
    }

    /// Copy the inputs in, run, copy the output out (as f32).
    pub fn run(
        &mut self,
        session: &mut Session,
        names: &[(&'static str, Kind)],
        output: &str,
        inputs: Vec<(&'static str, Input)>,
        out_shape: &[usize],
        precision: Precision,
    ) -> Res<ArrayD<f32>> {
        // Inputs in contract order.
        let mut ordered: Vec<Input> = Vec::with_capacity(names.len());
        let mut inputs = inputs;
        for (name, _) in names {
            let i = inputs
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| format!("missing input {name:?}"))?;
            ordered.push(inputs.swap_remove(i).1);
        }
        let key: Vec<Vec<usize>> = ordered
            .iter()
            .map(|i| match i {
                Input::F32(a) => a.shape().to_vec(),
                Input::I64(a) => a.shape().to_vec(),
            })
            .collect();
        let b = self.bucket(session, names, output, key, out_shape, precision)?;
        let bucket = &mut self.buckets[b];
        for ((input, (_, kind)), target) in ordered.into_iter().zip(names).zip(bucket.inputs.iter_mut()) {
            let host: DynTensor = match (input, Self::float_type(precision, *kind)) {
                (Input::F32(a), TensorElementType::Float16) => {
                    Tensor::from_array(a.mapv(f16::from_f32)).map_err(e)?.upcast()
                }
                (Input::F32(a), _) => Tensor::from_array(a).map_err(e)?.upcast(),
                (Input::I64(a), _) => Tensor::from_array(a).map_err(e)?.upcast(),
            };
            host.copy_into(&mut *target).map_err(e)?;
        }
        let mut run_options = RunOptions::new().map_err(e)?;
        if self.opts.cuda_graph {
            run_options
                .set("gpu_graph_id", bucket.graph_id.to_string())
                .map_err(e)?;
        }
        session
            .run_binding_with_options(&bucket.binding, &run_options)
            .map_err(e)?;
        let host_out = bucket.output.to(AllocationDevice::CPU, 0).map_err(e)?;
        let array = match precision {
            Precision::Fp32 => host_out.try_extract_array::<f32>().map_err(e)?.to_owned(),
            Precision::Fp16 => host_out.try_extract_array::<f16>().map_err(e)?.mapv(f16::to_f32),
        };
        array.into_dimensionality::<IxDyn>().map_err(|err| err.to_string())
    }
}
