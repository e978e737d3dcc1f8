//! The OpenAPI document's fixed parts: info, tags, the Basic security scheme. Paths and schemas are
//! collected from the handlers by utoipa-actix-web (see `routes`).

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};

use super::error::{ErrorBody, FieldError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sdgate",
        description = "Stable Diffusion on ONNX Runtime. `/sdapi/v1` speaks the AUTOMATIC1111 WebUI's API \
            (clients such as webuiapi, Open WebUI and SillyTavern work unchanged); `/v1` is the native job API \
            (submit, poll, stream events, cancel, fetch images). With --api-auth every route needs HTTP Basic \
            credentials.",
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "sdapi", description = "The WebUI-compatible API"),
        (name = "jobs", description = "The native job API"),
        (name = "gallery", description = "The saved images: list, search, files, thumbnails, delete"),
        (name = "health", description = "Probes and metrics"),
        (name = "page", description = "The HTML page"),
    ),
    components(schemas(ErrorBody, FieldError)),
    modifiers(&BasicAuth),
)]
pub struct ApiDoc;

struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        api.security = Some(vec![SecurityRequirement::new("basic", Vec::<String>::new())]);
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
