//! The OpenAPI document's fixed parts: info, tags, the Basic security scheme. Paths and schemas are
//! collected from the handlers by utoipa-actix-web (see `routes`), then [`finish`] adds what applies
//! to every operation (401) and describes what utoipa cannot (binary bodies, event streams).

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

/// What every route shares and utoipa's annotations cannot say, applied to the collected document:
/// - a 401 on every operation (with --api-auth every route answers it);
/// - binary bodies (`image/*`) as strings with their media type, not utoipa's `Vec<u8>` integer arrays;
/// - the event stream's items: one object per server-sent event.
///
/// schemathesis (scripts/fuzz-api) checks responses against these.
pub fn finish(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut doc) = serde_json::to_value(&api) else {
        return api;
    };
    finish_json(&mut doc);
    serde_json::from_value(doc).unwrap_or(api)
}

fn error_response(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn finish_json(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else { continue };
        for op in ops.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            responses
                .entry("401")
                .or_insert_with(|| error_response("Missing or wrong credentials (only with --api-auth)"));
            for response in responses.values_mut() {
                let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
                    continue;
                };
                for (media, body) in content.iter_mut() {
                    if media.starts_with("image/") {
                        body["schema"] = json!({"type": "string", "contentMediaType": media});
                    } else if media == "text/event-stream" {
                        body["schema"] = json!({
                            "type": "object",
                            "description": "One server-sent event; `data` is the JSON text of a job view (done, failed), a progress object or a preview object.",
                            "required": ["event", "data"],
                            "properties": {
                                "event": {"type": "string", "enum": ["progress", "preview", "done", "failed"]},
                                "data": {"type": "string", "contentMediaType": "application/json"},
                                "id": {"type": "string"},
                                "retry": {"type": "integer"}
                            }
                        });
                    }
                }
            }
        }
    }
}
