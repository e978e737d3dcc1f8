//! What a job needs of its model besides the sessions: tokenizer, token embeddings, the noise
//! schedule, textual-inversion lookups. Built once per model folder and shared by its jobs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::PipelineError;
use crate::images::ApproxFamily;
use crate::models::{Family, ModelFolder, PredictionType};
use crate::prompt::ti::{EmbeddingDb, TiLookup};
use crate::prompt::{ClipTokenizer, TokenEmbeddings};
use crate::samplers::{BetaSchedule, ModelFamily, ModelSchedule, ModelScheduleConfig, Prediction};

/// Per-model state shared by every job on that model.
pub struct ModelContext {
    pub folder: Arc<ModelFolder>,
    pub tokenizer: Arc<ClipTokenizer>,
    pub embeddings: Arc<TokenEmbeddings>,
    pub schedule: Arc<ModelSchedule>,
    pub ti: Arc<TiLookup>,
    pub approx: ApproxFamily,
}

impl ModelContext {
    fn load(folder: Arc<ModelFolder>, db: &EmbeddingDb) -> Result<Self, PipelineError> {
        let m = &folder.manifest;
        let prompt = |e: crate::prompt::PromptError| PipelineError::Prompt(e.to_string());
        let tokenizer = Arc::new(
            ClipTokenizer::from_file(
                &folder.path(&m.text.tokenizer),
                m.text.bos_token_id,
                m.text.eos_token_id,
                m.text.pad_token_id,
            )
            .map_err(prompt)?,
        );
        let embeddings =
            Arc::new(TokenEmbeddings::from_safetensors_file(&folder.path(&m.text.token_embeddings)).map_err(prompt)?);
        if embeddings.hidden_size() != m.text.hidden_size {
            return Err(PipelineError::Invalid(format!(
                "the token-embedding table is {} wide but model.json says hidden_size {}",
                embeddings.hidden_size(),
                m.text.hidden_size
            )));
        }
        let ti = Arc::new(TiLookup::new(db, &tokenizer, m.text.hidden_size, m.text.hidden_size).map_err(prompt)?);
        let beta_schedule = match m.scheduler.beta_schedule.as_str() {
            "linear" => BetaSchedule::Linear,
            _ => BetaSchedule::ScaledLinear,
        };
        let family = match m.family {
            Family::Sdxl => ModelFamily::Sdxl,
            Family::Sd1 | Family::Sd2 => ModelFamily::Sd15,
        };
        let schedule = Arc::new(ModelSchedule::new(&ModelScheduleConfig {
            num_train_timesteps: m.scheduler.num_train_timesteps,
            beta_start: m.scheduler.beta_start,
            beta_end: m.scheduler.beta_end,
            beta_schedule,
            prediction: match m.prediction_type {
                PredictionType::Epsilon => Prediction::Epsilon,
                PredictionType::V => Prediction::VPrediction,
            },
            family,
        })?);
        let approx = match m.family {
            Family::Sdxl => ApproxFamily::Sdxl,
            _ => ApproxFamily::Sd1,
        };
        Ok(Self {
            folder,
            tokenizer,
            embeddings,
            schedule,
            ti,
            approx,
        })
    }
}

/// Model contexts by model folder, and the textual-inversion embeddings they are built with.
pub struct ContextCache {
    contexts: Mutex<HashMap<PathBuf, Arc<ModelContext>>>,
    embeddings: RwLock<Arc<EmbeddingDb>>,
}

impl ContextCache {
    pub fn new(embeddings: EmbeddingDb) -> Self {
        Self {
            contexts: Mutex::new(HashMap::new()),
            embeddings: RwLock::new(Arc::new(embeddings)),
        }
    }

    pub fn get(&self, folder: &Arc<ModelFolder>) -> Result<Arc<ModelContext>, PipelineError> {
        if let Some(c) = self.contexts.lock().get(&folder.root) {
            return Ok(c.clone());
        }
        let db = self.embeddings.read().clone();
        let ctx = Arc::new(ModelContext::load(folder.clone(), &db)?);
        self.contexts.lock().insert(folder.root.clone(), ctx.clone());
        Ok(ctx)
    }

    /// The textual-inversion embeddings in use.
    pub fn embeddings(&self) -> Arc<EmbeddingDb> {
        self.embeddings.read().clone()
    }

    /// Swap in rescanned embeddings (refresh-embeddings); contexts are rebuilt on next use.
    pub fn set_embeddings(&self, db: EmbeddingDb) {
        *self.embeddings.write() = Arc::new(db);
        self.contexts.lock().clear();
    }
}
