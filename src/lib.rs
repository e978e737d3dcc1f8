//! sdgate: Stable Diffusion on ONNX Runtime, served over a WebUI-compatible HTTP API.
//!
//! The way a request travels (each arrow a channel or a plain call with owned, validated data):
//!
//! ```text
//! api (actix-web)  parse → validate into a typed job
//!   → jobs         bounded queue, job store, progress, cancel
//!   → runtime      one OS thread per device owns the ONNX sessions
//!       ⇄ samplers a state machine asking for denoiser evaluations
//!       ⇄ prompt   prompt language → token chunks → text-encoder conditioning
//!   → images       decode/encode, infotext, previews
//!   → store        atomic PNG writes + SQLite index (the gallery reads from here)
//! ```
#![deny(unsafe_code)]

pub mod api;
pub mod bench;
pub mod config;
pub mod images;
pub mod jobs;
pub mod models;
pub mod pipeline;
pub mod prompt;
pub mod rng;
pub mod runtime;
pub mod samplers;
pub mod store;
