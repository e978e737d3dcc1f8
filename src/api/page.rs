//! GET /: a small HTML page (links and the latest images from the job store). Off with --nowebui.
//! The gallery backed by the output store replaces it later.

use actix_web::{HttpResponse, get, web};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::jobs::JobQuery;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML page: links to the API docs and the latest images.
#[utoipa::path(tag = "page", responses(
    (status = 200, description = "HTML", content_type = "text/html", body = String),
    (status = 404, description = "Disabled with --nowebui", body = ErrorBody)))]
#[get("/")]
pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.settings.webui_page {
        return Err(ApiError::NotFound("Not Found: the page is disabled (--nowebui)".into()));
    }
    let page = state.jobs.list(&JobQuery {
        state: None,
        offset: 0,
        limit: 50,
    });
    let mut cells = String::new();
    for job in &page.jobs {
        let Some(out) = &job.output else { continue };
        for (i, img) in out.images.iter().enumerate() {
            cells.push_str(&format!(
                "<figure><a href=\"/v1/images/{id}/{i}.png\"><img loading=\"lazy\" src=\"/v1/images/{id}/{i}.png\" \
                 alt=\"\"></a><figcaption>{}</figcaption></figure>\n",
                escape(&img.prompt),
                id = job.id,
            ));
        }
    }
    if cells.is_empty() {
        cells.push_str("<p>No images yet.</p>");
    }
    let model = state
        .registry
        .current()
        .map(|e| e.title())
        .unwrap_or_else(|| "none".into());
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sdgate</title><style>\
         body{{font-family:sans-serif;margin:2em}}figure{{display:inline-block;margin:.5em;max-width:256px}}\
         img{{max-width:256px}}figcaption{{font-size:.8em;overflow-wrap:anywhere}}</style></head><body>\
         <h1>sdgate</h1><p>Model: {model}. API: <a href=\"/docs/\">/docs</a> · \
         <a href=\"/openapi.json\">openapi.json</a> · <a href=\"/v1/jobs\">/v1/jobs</a></p>{cells}</body></html>",
        model = escape(&model),
    );
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}
