//! The HTTP layer (actix-web): WebUI-compatible /sdapi/v1, the native job API (/v1), health,
//! readiness, metrics, the OpenAPI document and its viewer.
//!
//! A handler parses (extract.rs), validates into a `GenerationJob` (validate.rs) and hands it to the
//! job layer; it never touches a model. Every error goes through [`ApiError`].

pub mod auth;
pub mod catalog;
pub mod error;
pub mod events;
pub mod extract;
pub mod gallery;
pub mod gallery_assets;
pub mod health;
pub mod jobs_api;
pub mod lenient;
pub mod middleware;
pub mod openapi;
pub mod options;
pub mod page;
pub mod probe;
pub mod requests;
pub mod responses;
pub mod sdapi_control;
pub mod sdapi_generate;
pub mod sdapi_info;
pub mod sdapi_misc;
pub mod shutdown;
pub mod validate;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, ResponseError, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use validate::GenerationLimits;

use crate::config::{Credentials, ServeArgs};
use crate::jobs::{DEFAULT_POLL_INTERVAL, JobManager, MemoryJobStore, Metrics, Retention};
use crate::models::ModelRegistry;
use crate::runtime::backend::Backend;
use crate::store::{GalleryStore, StoreSink};

/// What the HTTP layer needs from the configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub auth: Option<Credentials>,
    pub public_probes: bool,
    pub cors_allow_origins: Vec<String>,
    /// Serve the HTML page at / (false with --nowebui).
    pub webui_page: bool,
    pub max_body_bytes: usize,
    /// Interrupt a synchronous /sdapi generation after this long.
    pub request_timeout: Option<Duration>,
    pub limits: GenerationLimits,
    pub retention: Retention,
    /// How often job progress is copied into the job store and event streams.
    pub poll_interval: Duration,
    /// What /sdapi/v1/cmd-flags answers (the effective configuration, secrets redacted).
    pub cmd_flags: serde_json::Value,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            auth: None,
            public_probes: false,
            cors_allow_origins: vec![],
            webui_page: true,
            max_body_bytes: 50 * 1024 * 1024,
            request_timeout: None,
            limits: GenerationLimits::default(),
            retention: Retention::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            cmd_flags: serde_json::json!({}),
        }
    }
}

impl ApiSettings {
    pub fn from_args(args: &ServeArgs) -> Self {
        let l = &args.limits;
        let mut limits = GenerationLimits {
            max_side: l.max_image_side,
            max_pixels: l.max_image_pixels,
            max_steps: l.max_steps,
            max_batch_size: l.max_batch_size,
            max_n_iter: l.max_n_iter,
            max_images: l.max_images,
            max_prompt_chars: l.max_prompt_chars,
            max_latent_pixels: l.max_latent_pixels.unwrap_or(if args.runtime.provider.is_gpu() {
                256 * 256
            } else {
                128 * 128
            }),
            ..GenerationLimits::default()
        };
        limits.image.max_encoded_bytes = l.max_body_bytes;
        limits.image.max_side = l.max_input_image_side;
        // Half the square of the side: 8192 allows 8192×4096 (32 Mpx), what the images module defaults to.
        limits.image.max_pixels = u64::from(l.max_input_image_side) * u64::from(l.max_input_image_side) / 2;
        ApiSettings {
            auth: args.server.api_auth.clone(),
            public_probes: args.server.public_probes,
            cors_allow_origins: args.server.cors_allow_origins.clone(),
            webui_page: !args.server.nowebui,
            max_body_bytes: l.max_body_bytes,
            request_timeout: (l.request_timeout > 0).then(|| Duration::from_secs(l.request_timeout)),
            limits,
            retention: Retention {
                max_finished: l.job_retention,
                ttl: Duration::from_secs(l.job_ttl),
                max_bytes: l.job_retention_bytes,
            },
            poll_interval: DEFAULT_POLL_INTERVAL,
            cmd_flags: cmd_flags(args),
        }
    }
}

/// The effective configuration as a flat dict with the WebUI's underscore names.
fn cmd_flags(args: &ServeArgs) -> serde_json::Value {
    let mut flat = serde_json::Map::new();
    if let Ok(serde_json::Value::Object(groups)) = serde_json::to_value(args) {
        for (_, group) in groups {
            if let serde_json::Value::Object(fields) = group {
                flat.extend(fields);
            }
        }
    }
    flat.insert("api".into(), true.into());
    serde_json::Value::Object(flat)
}

/// Shared by every handler (one clone per HTTP worker; all parts are shared).
#[derive(Clone)]
pub struct AppState {
    pub backend: Arc<dyn Backend>,
    pub registry: Arc<ModelRegistry>,
    pub jobs: Arc<JobManager>,
    pub options: Arc<options::OptionsStore>,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<ApiSettings>,
    pub auth: Arc<auth::AuthTable>,
    /// The output store behind the gallery (None: images are not saved and /v1/gallery answers 404).
    pub gallery: Option<Arc<GalleryStore>>,
    draining: Arc<AtomicBool>,
    /// The generation pipeline (textual-inversion embeddings); `None` with a fake backend.
    pub pipeline: Option<Arc<crate::pipeline::Pipeline>>,
}

impl AppState {
    pub fn new(
        backend: Arc<dyn Backend>,
        registry: Arc<ModelRegistry>,
        metrics: Arc<Metrics>,
        settings: ApiSettings,
    ) -> Self {
        let store = Arc::new(MemoryJobStore::new(settings.retention));
        let jobs = JobManager::new(backend.clone(), store, metrics.clone(), settings.poll_interval);
        AppState {
            backend,
            registry,
            jobs,
            options: Arc::new(options::OptionsStore::new()),
            metrics,
            auth: Arc::new(auth::AuthTable::new(settings.auth.as_ref(), settings.public_probes)),
            settings: Arc::new(settings),
            gallery: None,
            draining: Arc::new(AtomicBool::new(false)),
            pipeline: None,
        }
    }

    /// Attach the generation pipeline (embeddings listing and refresh).
    pub fn with_pipeline(mut self, pipeline: Arc<crate::pipeline::Pipeline>) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// Save finished jobs' images into this store and serve it as the gallery.
    pub fn with_gallery(mut self, store: Arc<GalleryStore>) -> Self {
        self.jobs.set_output_sink(Arc::new(StoreSink(store.clone())));
        self.gallery = Some(store);
        self
    }

    /// Stop accepting jobs (graceful shutdown): /ready answers 503, new jobs 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.jobs.stop_accepting();
        self.backend.drain();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Preview cadence from the options (live_previews_enable, show_progress_every_n_steps).
    pub fn preview_every(&self) -> usize {
        let opts = self.options.snapshot(&self.registry);
        let enabled = opts
            .get("live_previews_enable")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let every = opts
            .get("show_progress_every_n_steps")
            .and_then(|v| v.as_i64())
            .unwrap_or(10);
        if enabled && every > 0 { every as usize } else { 0 }
    }
}

/// Register every documented route (shared by the server, the tests and `sdgate openapi`).
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(health::metrics)
        .service(page::index)
        .service(page::gallery)
        .service(page::page_asset)
        .service(page::page_languages)
        .service(page::page_locale)
        .service(sdapi_generate::txt2img)
        .service(sdapi_generate::img2img)
        .service(sdapi_control::progress)
        .service(sdapi_control::interrupt)
        .service(sdapi_control::skip)
        .service(sdapi_control::get_options)
        .service(sdapi_control::set_options)
        .service(sdapi_control::refresh_checkpoints)
        .service(sdapi_control::refresh_embeddings)
        .service(sdapi_control::refresh_loras)
        .service(sdapi_control::refresh_vae)
        .service(sdapi_info::sd_models)
        .service(sdapi_info::samplers)
        .service(sdapi_info::schedulers)
        .service(sdapi_info::upscalers)
        .service(sdapi_info::latent_upscale_modes)
        .service(sdapi_info::embeddings)
        .service(sdapi_info::sd_vae)
        .service(sdapi_info::loras)
        .service(sdapi_info::hypernetworks)
        .service(sdapi_info::face_restorers)
        .service(sdapi_info::realesrgan_models)
        .service(sdapi_info::prompt_styles)
        .service(sdapi_info::scripts)
        .service(sdapi_info::script_info)
        .service(sdapi_info::extensions)
        .service(sdapi_misc::memory)
        .service(sdapi_misc::cmd_flags)
        .service(sdapi_misc::png_info)
        .service(sdapi_misc::extra_single_image)
        .service(jobs_api::create_job)
        .service(jobs_api::list_jobs)
        .service(jobs_api::get_job)
        .service(jobs_api::cancel_job)
        .service(jobs_api::job_preview)
        .service(jobs_api::job_image)
        .service(events::job_events)
        .service(gallery::list_images)
        .service(gallery::facets)
        .service(gallery::reconcile)
        .service(gallery::get_image)
        .service(gallery::image_file)
        .service(gallery::image_thumb)
        .service(gallery::delete_image);
}

/// The OpenAPI document (what /openapi.json serves and `sdgate openapi` prints).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let spec = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes)
        .split_for_parts()
        .1;
    openapi::finish(spec)
}

/// The OpenAPI document as pretty JSON with a trailing newline (the committed openapi/openapi.json).
pub fn openapi_json() -> String {
    let mut s = openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

async fn not_found(req: HttpRequest) -> actix_web::HttpResponse {
    let allowed = methods_of(req.path());
    if !allowed.is_empty() {
        let allow = allowed.join(", ");
        return ApiError::MethodNotAllowed {
            message: format!("Method Not Allowed: {} {} (allowed: {allow})", req.method(), req.path()),
            allow,
        }
        .error_response();
    }
    ApiError::NotFound(format!("Not Found: {} {}", req.method(), req.path())).error_response()
}

/// The methods the documented routes take at `path` (empty for an unknown path), from the OpenAPI
/// document's path templates (`{x}` stands for one segment). The document is built once.
fn methods_of(path: &str) -> Vec<String> {
    static TABLE: std::sync::OnceLock<Vec<(Vec<String>, Vec<String>)>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let Ok(doc) = serde_json::to_value(openapi()) else {
            return vec![];
        };
        let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
            return vec![];
        };
        paths
            .iter()
            .map(|(template, ops)| {
                let segments = template.split('/').map(str::to_string).collect();
                let methods = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                (segments, methods)
            })
            .collect()
    });
    let wanted: Vec<&str> = path.split('/').collect();
    let fits = |template: &[String]| {
        template.len() == wanted.len()
            && template.iter().zip(&wanted).all(|(t, w)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !w.is_empty()
                } else {
                    t == w
                }
            })
    };
    let mut methods: Vec<String> = table
        .iter()
        .filter(|(t, _)| fits(t))
        .flat_map(|(_, m)| m.clone())
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::validation("query", err.to_string()).into()
}

fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound(err.to_string()).into()
}

/// The application: routes, docs, and the middleware (outermost first: timing and metrics, CORS,
/// authentication).
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = extract::BodyLimit(state.settings.max_body_bytes);
    let (app, spec) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(web::Data::new(state))
        .app_data(body_limit)
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::JsonConfig::default().error_handler(|e, _| ApiError::MalformedJson(e.to_string()).into()))
        .configure(routes)
        .split_for_parts();
    let spec = openapi::finish(spec);
    app.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec))
        .default_service(web::to(not_found))
        .wrap(from_fn(auth::require_auth))
        .wrap(from_fn(middleware::cors))
        .wrap(from_fn(middleware::observe))
}

/// Everything `serve` needs.
pub struct ServeContext {
    pub state: AppState,
    pub bind: (std::net::IpAddr, u16),
    pub http_workers: Option<usize>,
    pub shutdown_timeout: Duration,
}

/// Run the server until SIGTERM/SIGINT and a graceful drain (see shutdown.rs).
pub async fn serve(ctx: ServeContext) -> std::io::Result<()> {
    let state = ctx.state.clone();
    let mut server = actix_web::HttpServer::new(move || build_app(state.clone()))
        .disable_signals()
        // A client that closes its side has gone: stop handling its request, so the handler's
        // future is dropped and its job cancelled (the ticket's drop guard).
        .h1_allow_half_closed(false)
        .shutdown_timeout(30);
    if let Some(n) = ctx.http_workers {
        server = server.workers(n.max(1));
    }
    let server = server.bind(ctx.bind)?.run();
    tracing::info!("listening on http://{}:{}", ctx.bind.0, ctx.bind.1);
    if ctx.state.auth.enabled() {
        tracing::info!("HTTP Basic authentication is on for every route");
    }
    let handle = server.handle();
    tokio::spawn(shutdown::on_signal(ctx.state, handle, ctx.shutdown_timeout));
    server.await
}

/// Turn an error into the JSON response the API uses (for handlers that build responses by hand).
pub fn error_response(e: &ApiError) -> actix_web::HttpResponse {
    e.error_response()
}
