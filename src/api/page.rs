//! The gallery page at / and /gallery (off with --nowebui): plain HTML, JS and CSS embedded in the
//! binary (gallery_assets.rs), the UI strings per language (Accept-Language picks the first one; the
//! page's switch, remembered in localStorage, overrides it).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::gallery_assets::{INDEX_HTML, LOCALES, asset, locale, locale_name, negotiate};

/// The page's Content-Security-Policy: only its own files; previews arrive as data: URLs.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn page_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.settings.webui_page {
        Ok(())
    } else {
        Err(ApiError::NotFound("Not Found: the page is disabled (--nowebui)".into()))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Language {
    /// e.g. "en", "zh-CN".
    pub code: String,
    /// The language's own name.
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Languages {
    /// What this request's Accept-Language picks.
    pub default: String,
    pub languages: Vec<Language>,
}

fn languages() -> Vec<Language> {
    LOCALES
        .iter()
        .map(|(code, json)| Language {
            code: (*code).into(),
            name: locale_name(json),
        })
        .collect()
}

/// What the page's script starts from, as JSON safe inside a <script type="application/json">.
fn boot_json(state: &AppState, lang: &str, strings: &str) -> String {
    let model = state.registry.current().map(|e| e.title());
    let boot = serde_json::json!({
        "lang": lang,
        "languages": languages(),
        "strings": serde_json::from_str::<serde_json::Value>(strings).unwrap_or_default(),
        "model": model,
        "gallery": state.gallery.is_some(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    boot.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn render(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    page_enabled(state)?;
    let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let lang = negotiate(accept);
    let strings = locale(lang).map_or("{}", |l| l.1);
    let html = INDEX_HTML
        .replace("{{lang}}", lang)
        .replace("{{boot}}", &boot_json(state, lang, strings));
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Language"))
        .body(html))
}

/// The gallery page (HTML).
#[utoipa::path(tag = "page", responses(
    (status = 200, description = "HTML", content_type = "text/html", body = String),
    (status = 404, description = "Disabled with --nowebui", body = ErrorBody)))]
#[get("/")]
pub async fn index(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    render(&state, &req)
}

/// The gallery page (HTML), the same as /.
#[utoipa::path(tag = "page", responses(
    (status = 200, description = "HTML", content_type = "text/html", body = String),
    (status = 404, description = "Disabled with --nowebui", body = ErrorBody)))]
#[get("/gallery")]
pub async fn gallery(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    render(&state, &req)
}

/// A file of the page (app.js, app.css, favicon.svg), embedded in the binary.
#[utoipa::path(tag = "page", params(("file" = String, Path, description = "app.js, app.css or favicon.svg")), responses(
    (status = 200, description = "The file", content(
        (String = "text/javascript"), (String = "text/css"), (String = "image/svg+xml"))),
    (status = 404, description = "No such file, or disabled with --nowebui", body = ErrorBody)))]
#[get("/gallery/assets/{file}")]
pub async fn page_asset(state: web::Data<AppState>, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    page_enabled(&state)?;
    let (mime, bytes) = asset(&file).ok_or_else(|| ApiError::NotFound(format!("no asset {:?}", file.as_str())))?;
    Ok(HttpResponse::Ok()
        .content_type(mime)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(bytes))
}

/// The languages of the page, and the one Accept-Language picks.
#[utoipa::path(tag = "page", responses(
    (status = 200, description = "OK", body = Languages),
    (status = 404, description = "Disabled with --nowebui", body = ErrorBody)))]
#[get("/gallery/locales")]
pub async fn page_languages(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    page_enabled(&state)?;
    let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Ok(HttpResponse::Ok().json(Languages {
        default: negotiate(accept).into(),
        languages: languages(),
    }))
}

/// The UI strings of one language (`<code>.json`, e.g. `zh-CN.json`).
#[utoipa::path(tag = "page", params(("file" = String, Path, description = "`<code>.json`, e.g. `en.json`")), responses(
    (status = 200, description = "An object of UI strings", content_type = "application/json", body = Object),
    (status = 404, description = "No such language", body = ErrorBody)))]
#[get("/gallery/locales/{file}")]
pub async fn page_locale(state: web::Data<AppState>, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    page_enabled(&state)?;
    let (_, json) = file
        .strip_suffix(".json")
        .and_then(locale)
        .ok_or_else(|| ApiError::NotFound(format!("no language {:?}", file.as_str())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(json))
}
