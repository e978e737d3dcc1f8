//! The job layer's hook: a finished job's images are saved here (see `jobs::OutputSink`).

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{GalleryStore, ImageKind, SaveImage, SaveJob, SavePolicy};
use crate::jobs::{JobKind, JobRecord, OutputSink};
use crate::pipeline::GenerationOutput;

impl GalleryStore {
    /// Whether a job's images are saved under the policy: always, or (--no-save) only when its request
    /// asked with `save_images: true`.
    pub fn wants(&self, job: &JobRecord) -> bool {
        match self.policy {
            SavePolicy::Always => true,
            SavePolicy::OnRequest => job.parameters.get("save_images").and_then(|v| v.as_bool()) == Some(true),
        }
    }
}

/// The sink the job manager calls: a handle on the store.
pub struct StoreSink(pub Arc<GalleryStore>);

impl OutputSink for StoreSink {
    fn save(&self, job: &JobRecord, output: &Arc<GenerationOutput>) -> BoxFuture<'static, Result<(), String>> {
        if !self.0.wants(job) {
            return Box::pin(async { Ok(()) });
        }
        let save = SaveJob {
            job_id: Some(job.id.to_string()),
            kind: match job.kind {
                JobKind::Txt2img => ImageKind::Txt2img,
                JobKind::Img2img => ImageKind::Img2img,
            },
            created: chrono::Utc::now(),
        };
        let images = output
            .images
            .iter()
            .map(|i| SaveImage {
                png: i.png.clone(),
                seed: i.seed,
            })
            .collect();
        let answer = self.0.save(save, images);
        let id = job.id;
        Box::pin(async move {
            match answer.wait().await {
                Ok(ids) => {
                    tracing::debug!(job = %id, "saved images {ids:?}");
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(job = %id, "saving the images failed: {e}");
                    Err(e.to_string())
                }
            }
        })
    }
}
