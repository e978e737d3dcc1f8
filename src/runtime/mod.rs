//! ONNX Runtime: the library, execution providers, sessions and the per-device owner thread.

pub mod library;
