//! The API layer's one error type, and the one table that maps every lower error to a status code.
//!
//! Body: the WebUI's `{error, detail, body, errors}` plus a machine-readable `type` (and `fields` for
//! validation errors).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::images::ImageError;
use crate::jobs::JobError;
use crate::models::ModelError;
use crate::pipeline::PipelineError;
use crate::runtime::RuntimeError;
use crate::runtime::backend::SubmitError;
use crate::samplers::SamplerError;

/// One problem with one request field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Where: `["body", "width"]`, as FastAPI reports it.
    pub loc: Vec<String>,
    pub msg: String,
}

impl FieldError {
    pub fn new(field: &str, msg: impl Into<String>) -> Self {
        FieldError {
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", join_fields(.0))]
    Validation(Vec<FieldError>),
    #[error("malformed JSON body: {0}")]
    MalformedJson(String),
    #[error("Incorrect username or password")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    /// A known path asked with a method it does not take (`allow`: the ones it takes).
    #[error("{message}")]
    MethodNotAllowed { message: String, allow: String },
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("generation failed: {0}")]
    Pipeline(Arc<PipelineError>),
    #[error("{0}")]
    Image(#[from] ImageError),
    #[error("{0}")]
    Model(#[from] ModelError),
    #[error("{0}")]
    Sampler(#[from] SamplerError),
    #[error("the generation took longer than the request timeout of {0} s and was interrupted")]
    Timeout(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

fn join_fields(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.loc.last().map(String::as_str).unwrap_or("body"), f.msg))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The machine type of an error response, kept in the response's extensions for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct ErrorType(pub &'static str);

/// The error body every route answers with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Error class (the WebUI puts the Python exception name here).
    #[schema(example = "ValidationError")]
    pub error: String,
    /// What went wrong, for people.
    #[schema(example = "width: must be a positive multiple of 8 (got 7)")]
    pub detail: String,
    /// Unused (the WebUI's request-body echo); always "".
    pub body: String,
    /// The same message as `detail` (the WebUI's `str(exception)`).
    pub errors: String,
    /// A stable machine-readable type: validation_error, malformed_json, unauthorized, not_found,
    /// method_not_allowed,
    /// payload_too_large, queue_full, shutting_down, not_ready, not_implemented, generation_failed,
    /// out_of_memory (503: the job does not fit the device), timeout, internal_error.
    #[serde(rename = "type")]
    #[schema(example = "validation_error")]
    pub kind: String,
    /// The fields at fault (validation errors only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl ApiError {
    pub fn validation(field: &str, msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, msg)])
    }

    /// The one table: (status, error class, machine type).
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        const VALIDATION: (StatusCode, &str, &str) = (S::UNPROCESSABLE_ENTITY, "ValidationError", "validation_error");
        const INTERNAL: (StatusCode, &str, &str) = (S::INTERNAL_SERVER_ERROR, "InternalError", "internal_error");
        const UNAVAILABLE: (StatusCode, &str, &str) = (S::SERVICE_UNAVAILABLE, "ServiceUnavailable", "not_ready");
        match self {
            ApiError::Validation(_) => VALIDATION,
            ApiError::MalformedJson(_) => (S::UNPROCESSABLE_ENTITY, "JSONDecodeError", "malformed_json"),
            ApiError::Unauthorized => (S::UNAUTHORIZED, "HTTPException", "unauthorized"),
            ApiError::NotFound(_) => (S::NOT_FOUND, "HTTPException", "not_found"),
            ApiError::MethodNotAllowed { .. } => (S::METHOD_NOT_ALLOWED, "HTTPException", "method_not_allowed"),
            ApiError::BodyTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "PayloadTooLarge", "payload_too_large"),
            ApiError::Submit(SubmitError::QueueFull { .. }) => (S::TOO_MANY_REQUESTS, "QueueFull", "queue_full"),
            ApiError::Submit(SubmitError::ShuttingDown) => (S::SERVICE_UNAVAILABLE, "ShuttingDown", "shutting_down"),
            ApiError::Submit(SubmitError::NoWorker) => UNAVAILABLE,
            ApiError::NotReady(_) => UNAVAILABLE,
            ApiError::NotImplemented(_) => (S::NOT_IMPLEMENTED, "NotImplemented", "not_implemented"),
            ApiError::Pipeline(e) => match &**e {
                PipelineError::Invalid(_) | PipelineError::Prompt(_) | PipelineError::Image(_) => VALIDATION,
                PipelineError::Sampler(SamplerError::InvalidParameter(_))
                | PipelineError::Sampler(SamplerError::UnknownSampler { .. })
                | PipelineError::Sampler(SamplerError::UnknownSchedule { .. }) => VALIDATION,
                PipelineError::Runtime(RuntimeError::Model(ModelError::UnknownModel { .. })) => VALIDATION,
                PipelineError::Runtime(RuntimeError::OutOfMemory { .. }) => {
                    (S::SERVICE_UNAVAILABLE, "OutOfMemory", "out_of_memory")
                }
                PipelineError::WorkerGone => UNAVAILABLE,
                PipelineError::Sampler(_) | PipelineError::Runtime(_) | PipelineError::Internal(_) => {
                    (S::INTERNAL_SERVER_ERROR, "GenerationError", "generation_failed")
                }
            },
            ApiError::Image(e) if e.is_client_error() => VALIDATION,
            ApiError::Image(_) => INTERNAL,
            ApiError::Model(ModelError::UnknownModel { .. }) => VALIDATION,
            ApiError::Model(_) => INTERNAL,
            ApiError::Sampler(SamplerError::Protocol(_)) => INTERNAL,
            ApiError::Sampler(_) => VALIDATION,
            ApiError::Timeout(_) => (S::GATEWAY_TIMEOUT, "Timeout", "timeout"),
            ApiError::Internal(_) => INTERNAL,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (_, class, kind) = self.classify();
        let message = self.to_string();
        ErrorBody {
            error: class.into(),
            detail: message.clone(),
            body: String::new(),
            errors: message,
            kind: kind.into(),
            fields: match self {
                ApiError::Validation(f) => f.clone(),
                _ => vec![],
            },
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Submit(s) => ApiError::Submit(s),
            JobError::NotFound(id) => ApiError::NotFound(format!("no job {id}")),
            JobError::NoRuntime => ApiError::Internal(e.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, _, kind) = self.classify();
        if status.is_server_error() {
            tracing::error!("{status}: {self}");
        }
        let mut res = HttpResponse::build(status);
        match self {
            ApiError::Submit(SubmitError::QueueFull { retry_after_secs, .. }) => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.max(&1).to_string()));
            }
            ApiError::Submit(SubmitError::ShuttingDown) | ApiError::NotReady(_) => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                res.insert_header((header::ALLOW, allow.clone()));
            }
            ApiError::Unauthorized => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"sdgate\""),
                ));
            }
            _ => {}
        }
        let mut res = res.json(self.body());
        res.extensions_mut().insert(ErrorType(kind));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_table() {
        let cases: Vec<(ApiError, u16)> = vec![
            (ApiError::validation("width", "bad"), 422),
            (ApiError::MalformedJson("x".into()), 422),
            (ApiError::Unauthorized, 401),
            (ApiError::NotFound("x".into()), 404),
            (ApiError::BodyTooLarge { limit: 1 }, 413),
            (
                ApiError::Submit(SubmitError::QueueFull {
                    capacity: 1,
                    retry_after_secs: 3,
                }),
                429,
            ),
            (ApiError::Submit(SubmitError::ShuttingDown), 503),
            (ApiError::Pipeline(Arc::new(PipelineError::Prompt("x".into()))), 422),
            (ApiError::Pipeline(Arc::new(PipelineError::WorkerGone)), 503),
            (ApiError::Internal("x".into()), 500),
        ];
        for (e, status) in cases {
            assert_eq!(e.status_code().as_u16(), status, "{e:?}");
            let res = e.error_response();
            assert!(res.extensions().get::<ErrorType>().is_some());
        }
    }

    #[test]
    fn queue_full_sets_retry_after() {
        let res = ApiError::Submit(SubmitError::QueueFull {
            capacity: 1,
            retry_after_secs: 7,
        })
        .error_response();
        assert_eq!(res.headers().get("retry-after").unwrap(), "7");
    }
}
