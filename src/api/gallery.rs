//! The gallery's JSON API over the output store: list and search, one image with its parsed infotext,
//! its file and thumbnail (by index id only, never by a client path), delete, facets, reconcile.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::images::{ParsedInfotext, sniff_format};
use crate::store::{Facets, GalleryStore, ImageQuery, ImageRow, ReconcileReport, StoreError};

/// One image of the gallery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GalleryImage {
    pub id: i64,
    /// GET: the image file (add `?download=1` to save it under its name).
    pub url: String,
    /// GET: a JPEG thumbnail (256 px).
    pub thumb_url: String,
    /// Where it lies, relative to the outputs folder (informative: files are served by id only).
    pub path: String,
    /// txt2img, img2img or other (files found in the folder that sdgate did not make).
    pub kind: String,
    pub prompt: String,
    pub negative_prompt: String,
    pub model: Option<String>,
    pub model_hash: Option<String>,
    pub sampler: Option<String>,
    pub schedule: Option<String>,
    pub seed: Option<i64>,
    pub width: i64,
    pub height: i64,
    pub steps: Option<i64>,
    pub cfg_scale: Option<f64>,
    /// RFC 3339 (UTC).
    pub created_at: String,
    /// The local day it was made (YYYY-MM-DD, the name of its folder).
    pub day: String,
    /// The job that made it (null for files found in the folder).
    pub job_id: Option<String>,
    pub file_size: i64,
}

impl GalleryImage {
    fn from_row(r: ImageRow) -> Self {
        GalleryImage {
            url: format!("/v1/gallery/images/{}/file", r.id),
            thumb_url: format!("/v1/gallery/images/{}/thumb", r.id),
            id: r.id,
            path: r.path,
            kind: r.kind,
            prompt: r.prompt,
            negative_prompt: r.negative_prompt,
            model: r.model,
            model_hash: r.model_hash,
            sampler: r.sampler,
            schedule: r.schedule,
            seed: r.seed,
            width: r.width,
            height: r.height,
            steps: r.steps,
            cfg_scale: r.cfg_scale,
            created_at: r.created_at,
            day: r.day,
            job_id: r.job_id,
            file_size: r.file_size,
        }
    }
}

/// A parameter of the infotext, in its order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InfotextParam {
    pub key: String,
    pub value: String,
}

/// One image with its whole infotext.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GalleryImageDetail {
    #[serde(flatten)]
    pub image: GalleryImage,
    /// The infotext as stored in the PNG ("" when none).
    pub infotext: String,
    /// The infotext's `Key: value` parameters in order, parsed as the WebUI does ("Size" split into
    /// "Size-1" and "Size-2").
    pub parameters: Vec<InfotextParam>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GalleryPage {
    /// Newest first (unless order=oldest).
    pub images: Vec<GalleryImage>,
    /// Images matching the filters.
    pub total: i64,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GalleryQuery {
    /// Words that must all appear in the prompt (case-insensitive for ASCII letters).
    pub q: Option<String>,
    /// Exactly this model name (as in the infotext's "Model").
    pub model: Option<String>,
    /// Exactly this sampler name.
    pub sampler: Option<String>,
    /// txt2img, img2img or other.
    pub kind: Option<String>,
    /// From this day on (YYYY-MM-DD, inclusive).
    pub from: Option<String>,
    /// Up to this day (YYYY-MM-DD, inclusive).
    pub to: Option<String>,
    /// Only the images of this job.
    pub job: Option<String>,
    /// newest (default) or oldest.
    pub order: Option<String>,
    /// Skip this many (default 0).
    pub offset: Option<u64>,
    /// At most this many, 1..200 (default 50).
    pub limit: Option<u64>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn day(field: &str, s: &Option<String>) -> Result<Option<String>, ApiError> {
    let Some(s) = nonempty(s) else { return Ok(None) };
    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map(|d| Some(d.format("%Y-%m-%d").to_string()))
        .map_err(|_| ApiError::validation(field, format!("expected a day as YYYY-MM-DD (got {s:?})")))
}

impl GalleryQuery {
    fn to_query(&self) -> Result<ImageQuery, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::validation(
                "limit",
                format!("must be from 1 to 200 (got {limit})"),
            ));
        }
        let words: Vec<String> = nonempty(&self.q)
            .map(|q| q.split_whitespace().take(16).map(str::to_string).collect())
            .unwrap_or_default();
        if words.iter().any(|w| w.chars().count() > 200) {
            return Err(ApiError::validation("q", "words are at most 200 characters"));
        }
        let oldest_first = match self.order.as_deref() {
            None | Some("") | Some("newest") => false,
            Some("oldest") => true,
            Some(o) => return Err(ApiError::validation("order", format!("newest or oldest (got {o:?})"))),
        };
        Ok(ImageQuery {
            words,
            model: nonempty(&self.model),
            sampler: nonempty(&self.sampler),
            kind: nonempty(&self.kind),
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
            job_id: nonempty(&self.job),
            oldest_first,
            offset: self.offset.unwrap_or(0),
            limit,
        })
    }
}

fn store(state: &AppState) -> Result<Arc<GalleryStore>, ApiError> {
    state
        .gallery
        .clone()
        .ok_or_else(|| ApiError::NotFound("the gallery is off on this server".into()))
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(id) => ApiError::NotFound(format!("no image {id}")),
        StoreError::Query(m) => ApiError::validation("query", m),
        other => ApiError::Internal(other.to_string()),
    }
}

/// An id from the path: a positive integer, else 404 (no path ever reaches the file system).
fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|&id| id > 0 && s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ApiError::NotFound(format!("no image {s:?}")))
}

/// Run a blocking store call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(store_error)
}

/// The images, newest first, filtered and paged.
#[utoipa::path(tag = "gallery", params(GalleryQuery), responses(
    (status = 200, description = "OK", body = GalleryPage),
    (status = 404, description = "The gallery is off", body = ErrorBody),
    (status = 422, description = "Invalid query", body = ErrorBody)))]
#[get("/v1/gallery/images")]
pub async fn list_images(
    state: web::Data<AppState>,
    query: web::Query<GalleryQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let q = query.to_query()?;
    let (offset, limit) = (q.offset, q.limit);
    let page = blocking(move || store.list(&q)).await?;
    Ok(HttpResponse::Ok().json(GalleryPage {
        images: page.images.into_iter().map(GalleryImage::from_row).collect(),
        total: page.total,
        offset,
        limit,
    }))
}

/// One image: its metadata, whole infotext and parsed parameters.
#[utoipa::path(tag = "gallery", params(("id" = String, Path, description = "Image id")), responses(
    (status = 200, description = "OK", body = GalleryImageDetail),
    (status = 404, description = "No such image", body = ErrorBody)))]
#[get("/v1/gallery/images/{id}")]
pub async fn get_image(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let id = parse_id(&id)?;
    let row = blocking(move || store.get(id)?.ok_or(StoreError::NotFound(id))).await?;
    let parsed = ParsedInfotext::parse(&row.infotext);
    let infotext = row.infotext.clone();
    Ok(HttpResponse::Ok().json(GalleryImageDetail {
        image: GalleryImage::from_row(row),
        infotext,
        parameters: parsed
            .params
            .into_iter()
            .map(|(key, value)| InfotextParam { key, value })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// 1 or true: answer as an attachment (a download under the file's name).
    pub download: Option<String>,
}

/// A safe file name for Content-Disposition (ASCII letters, digits, `-`, `_`, `.`).
fn download_name(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or("image.png");
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.trim_matches('.').is_empty() {
        "image.png".into()
    } else {
        clean
    }
}

/// The image file, by id.
#[utoipa::path(tag = "gallery", params(("id" = String, Path, description = "Image id"), FileQuery), responses(
    (status = 200, description = "The image (PNG with its infotext, or the file's own format)", content_type = "image/png", body = Vec<u8>),
    (status = 404, description = "No such image", body = ErrorBody)))]
#[get("/v1/gallery/images/{id}/file")]
pub async fn image_file(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let id = parse_id(&id)?;
    let (row, bytes) = blocking(move || store.read_file(id)).await?;
    let mime = match sniff_format(&bytes) {
        Some(crate::images::Format::Jpeg) => "image/jpeg",
        Some(crate::images::Format::WebP) => "image/webp",
        _ => "image/png",
    };
    let attach = matches!(query.download.as_deref(), Some("1" | "true"));
    let disposition = format!(
        "{}; filename=\"{}\"",
        if attach { "attachment" } else { "inline" },
        download_name(&row.path)
    );
    Ok(HttpResponse::Ok()
        .content_type(mime)
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(bytes))
}

/// A JPEG thumbnail of the image (made once, cached on disk).
#[utoipa::path(tag = "gallery", params(("id" = String, Path, description = "Image id")), responses(
    (status = 200, description = "JPEG", content_type = "image/jpeg", body = Vec<u8>),
    (status = 404, description = "No such image", body = ErrorBody)))]
#[get("/v1/gallery/images/{id}/thumb")]
pub async fn image_thumb(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let id = parse_id(&id)?;
    let jpeg = blocking(move || store.thumbnail(id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(jpeg))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub id: i64,
    pub deleted: bool,
}

/// Delete an image: its file, its thumbnail and its index row.
#[utoipa::path(tag = "gallery", params(("id" = String, Path, description = "Image id")), responses(
    (status = 200, description = "Deleted", body = Deleted),
    (status = 404, description = "No such image", body = ErrorBody)))]
#[delete("/v1/gallery/images/{id}")]
pub async fn delete_image(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let id = parse_id(&id)?;
    if !store.delete(id).wait().await.map_err(store_error)? {
        return Err(ApiError::NotFound(format!("no image {id}")));
    }
    Ok(HttpResponse::Ok().json(Deleted { id, deleted: true }))
}

/// The values to filter on: models, samplers, days, kinds, with counts.
#[utoipa::path(tag = "gallery", responses(
    (status = 200, description = "OK", body = Facets),
    (status = 404, description = "The gallery is off", body = ErrorBody)))]
#[get("/v1/gallery/facets")]
pub async fn facets(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let f = blocking(move || store.facets()).await?;
    Ok(HttpResponse::Ok().json(f))
}

/// Bring the index in line with the outputs folder now (files added, changed or removed by hand).
#[utoipa::path(tag = "gallery", responses(
    (status = 200, description = "What changed", body = ReconcileReport),
    (status = 404, description = "The gallery is off", body = ErrorBody)))]
#[post("/v1/gallery/reconcile")]
pub async fn reconcile(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let report = store.reconcile().wait().await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_positive_integers() {
        assert_eq!(parse_id("12").unwrap(), 12);
        for bad in [
            "0",
            "-1",
            "+1",
            "1.0",
            "..",
            "%2e%2e",
            "../1",
            "1/../2",
            "",
            " 1",
            "99999999999999999999",
        ] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn download_names_are_safe() {
        assert_eq!(download_name("txt2img-images/2024-01-01/00001-5.png"), "00001-5.png");
        assert_eq!(download_name("a/b\"; x=1.png"), "b___x_1.png");
        assert_eq!(download_name(".."), "image.png");
    }

    #[test]
    fn queries_are_checked() {
        let q = |s: &str| serde_urlencoded_query(s).to_query();
        assert!(q("limit=0").is_err() && q("limit=201").is_err() && q("from=yesterday").is_err());
        assert!(q("order=random").is_err());
        let ok = q("q=%20red%20%20cat%20&from=2024-1-2&model=&limit=5").unwrap();
        assert_eq!(ok.words, ["red", "cat"]);
        assert_eq!((ok.from.as_deref(), ok.model, ok.limit), (Some("2024-01-02"), None, 5));
    }

    fn serde_urlencoded_query(s: &str) -> GalleryQuery {
        web::Query::<GalleryQuery>::from_query(s).unwrap().into_inner()
    }
}
