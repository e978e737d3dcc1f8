//! /sdapi/v1 lists: models, samplers, schedulers, upscalers, and the lists that are empty in sdgate
//! (VAEs, hypernetworks, face restorers, scripts, extensions, ...).

use actix_web::{HttpResponse, get, web};

use super::AppState;
use super::catalog;
use super::responses::*;
use crate::samplers::{all_samplers, all_schedules};

/// The models found (--model-dir, --ckpt-dir); `title` is what sd_model_checkpoint takes.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<SdModelItem>)))]
#[get("/sdapi/v1/sd-models")]
pub async fn sd_models(state: web::Data<AppState>) -> HttpResponse {
    let items: Vec<SdModelItem> = state
        .registry
        .list()
        .iter()
        .map(|e| {
            let src = &e.folder.manifest.source;
            SdModelItem {
                title: e.title(),
                model_name: e.name().to_string(),
                hash: src.short_hash.clone(),
                sha256: src.sha256.clone(),
                filename: e.folder.root.join(&src.file_name).display().to_string(),
                config: None,
            }
        })
        .collect();
    HttpResponse::Ok().json(items)
}

/// The samplers (name, aliases, options such as the default schedule).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<SamplerItem>)))]
#[get("/sdapi/v1/samplers")]
pub async fn samplers() -> HttpResponse {
    let items: Vec<SamplerItem> = all_samplers()
        .iter()
        .map(|s| SamplerItem {
            name: s.name.to_string(),
            aliases: s.aliases.iter().map(|a| a.to_string()).collect(),
            options: s.options().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        })
        .collect();
    HttpResponse::Ok().json(items)
}

/// The schedule types ("Automatic" = the sampler's default).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<SchedulerItem>)))]
#[get("/sdapi/v1/schedulers")]
pub async fn schedulers() -> HttpResponse {
    let items: Vec<SchedulerItem> = all_schedules()
        .iter()
        .map(|s| SchedulerItem {
            name: s.name.to_string(),
            label: s.label.to_string(),
            aliases: if s.aliases.is_empty() {
                None
            } else {
                Some(s.aliases.iter().map(|a| a.to_string()).collect())
            },
            default_rho: s.default_rho,
            need_inner_model: s.need_inner_model,
        })
        .collect();
    HttpResponse::Ok().json(items)
}

/// Pixel upscalers for hires fix (plain resamplers; no model-based upscaler yet).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<UpscalerItem>)))]
#[get("/sdapi/v1/upscalers")]
pub async fn upscalers() -> HttpResponse {
    let items: Vec<UpscalerItem> = catalog::UPSCALERS
        .iter()
        .map(|(name, scale)| UpscalerItem {
            name: name.to_string(),
            model_name: None,
            model_path: None,
            model_url: None,
            scale: Some(*scale),
        })
        .collect();
    HttpResponse::Ok().json(items)
}

/// The hires-fix latent upscale modes.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<LatentUpscalerModeItem>)))]
#[get("/sdapi/v1/latent-upscale-modes")]
pub async fn latent_upscale_modes() -> HttpResponse {
    let items: Vec<LatentUpscalerModeItem> = catalog::LATENT_UPSCALE_MODES
        .iter()
        .map(|n| LatentUpscalerModeItem { name: n.to_string() })
        .collect();
    HttpResponse::Ok().json(items)
}

/// Textual-inversion embeddings from --embeddings-dir: those that fit the current model are
/// `loaded`, the others `skipped` (e.g. another vector width).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = EmbeddingsResponse)))]
#[get("/sdapi/v1/embeddings")]
pub async fn embeddings(state: web::Data<AppState>) -> HttpResponse {
    let mut out = EmbeddingsResponse::default();
    let (Some(pipeline), Some(model)) = (&state.pipeline, state.registry.current()) else {
        return HttpResponse::Ok().json(out);
    };
    let item = |e: &crate::prompt::ti::Embedding| EmbeddingItem {
        step: e.step,
        sd_checkpoint: e.sd_checkpoint.clone(),
        sd_checkpoint_name: e.sd_checkpoint_name.clone(),
        shape: e.shape() as i64,
        vectors: e.num_vectors() as i64,
    };
    let db = pipeline.contexts().embeddings();
    let (loaded, skipped) = db.partition(model.folder.manifest.text.hidden_size);
    out.loaded = loaded.iter().map(|e| (e.name.clone(), item(e))).collect();
    out.skipped = skipped.iter().map(|(e, _)| (e.name.clone(), item(e))).collect();
    HttpResponse::Ok().json(out)
}

/// Separate VAE files (none: the VAE is part of the model folder).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<SdVaeItem>)))]
#[get("/sdapi/v1/sd-vae")]
pub async fn sd_vae() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<SdVaeItem>::new())
}

/// LoRA files (none are listed yet).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<LoraItem>)))]
#[get("/sdapi/v1/loras")]
pub async fn loras() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<LoraItem>::new())
}

/// Always empty: sdgate has no hypernetworks.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<HypernetworkItem>)))]
#[get("/sdapi/v1/hypernetworks")]
pub async fn hypernetworks() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<HypernetworkItem>::new())
}

/// Always empty: sdgate has no face restorers.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<FaceRestorerItem>)))]
#[get("/sdapi/v1/face-restorers")]
pub async fn face_restorers() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<FaceRestorerItem>::new())
}

/// Always empty: sdgate has no RealESRGAN models.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<RealesrganItem>)))]
#[get("/sdapi/v1/realesrgan-models")]
pub async fn realesrgan_models() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<RealesrganItem>::new())
}

/// Always empty: sdgate has no saved prompt styles.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<PromptStyleItem>)))]
#[get("/sdapi/v1/prompt-styles")]
pub async fn prompt_styles() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<PromptStyleItem>::new())
}

/// Script names (none: sdgate runs no WebUI scripts).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = ScriptsList)))]
#[get("/sdapi/v1/scripts")]
pub async fn scripts() -> HttpResponse {
    HttpResponse::Ok().json(ScriptsList::default())
}

/// Script arguments (none: sdgate runs no WebUI scripts).
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<ScriptInfo>)))]
#[get("/sdapi/v1/script-info")]
pub async fn script_info() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<ScriptInfo>::new())
}

/// Always empty: sdgate has no extensions.
#[utoipa::path(tag = "sdapi", responses((status = 200, description = "OK", body = Vec<ExtensionItem>)))]
#[get("/sdapi/v1/extensions")]
pub async fn extensions() -> HttpResponse {
    HttpResponse::Ok().json(Vec::<ExtensionItem>::new())
}
