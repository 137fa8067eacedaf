//! How failures reach clients: an [`ErrorCode`] and a sentence, never internals. A [`Refusal`] is
//! what a WebSocket frame is answered with; an [`ApiFailure`] is the same refusal over HTTP, with
//! its status. Database failures are logged here and shown to the client as
//! [`ErrorCode::Internal`] ("retry"), because a client's only useful reaction is to retry later,
//! which is always safe thanks to idempotent ingest.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::{ApiError, ErrorCode, ServerFrame};

/// A refused request: the machine-readable reason and the sentence shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// The human-readable reason.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Missing, forged or expired credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// Authenticated, but not allowed to do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// The `error` frame carrying this refusal.
    pub fn frame(self) -> ServerFrame {
        ServerFrame::error(self.code, self.message)
    }

    /// The HTTP status this refusal is answered with.
    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Conflict | ErrorCode::ConversationClosed => StatusCode::CONFLICT,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Malformed => StatusCode::BAD_REQUEST,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<&StoreError> for Refusal {
    /// The code and client-facing sentence for a storage failure. Internal failures are logged.
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => {
                Refusal::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            StoreError::Conflict(why) => Refusal::new(ErrorCode::Conflict, why.clone()),
            StoreError::Forbidden(why) => Refusal::forbidden(why.clone()),
            StoreError::Invalid(why) => Refusal::new(ErrorCode::Malformed, why.clone()),
            StoreError::ConversationClosed => {
                Refusal::new(ErrorCode::ConversationClosed, error.to_string())
            }
            StoreError::Corrupt { .. }
            | StoreError::Sqlite(_)
            | StoreError::NotCommitted(_)
            | StoreError::NewerSchema { .. }
            | StoreError::Io(_)
            | StoreError::Closed => {
                tracing::error!(%error, "storage failure");
                Refusal::new(
                    ErrorCode::Internal,
                    "the deployment could not store this; nothing was saved, retry later",
                )
            }
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Refusal::from(&error)
    }
}

/// The refusals a route of the HTTP API may answer, for its OpenAPI document: each is an
/// [`ApiError`] whose `error` code says what went wrong and whose `message` says it in a sentence.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Never built: it only describes answers for `/v1/openapi.json`.
pub(crate) enum Refusals {
    /// The request is malformed (a field, the body, a parameter), naming the field when it can.
    #[response(status = 400)]
    Malformed(ApiError),
    /// No credentials, or wrong ones.
    #[response(status = 401)]
    Unauthorized(ApiError),
    /// The caller may not do this (an agent at an admin route, a disabled account).
    #[response(status = 403)]
    Forbidden(ApiError),
    /// No such thing (or one the caller may not see).
    #[response(status = 404)]
    NotFound(ApiError),
    /// It clashes with what is stored (a taken id, e-mail or shortcut).
    #[response(status = 409)]
    Conflict(ApiError),
    /// A field breaks a rule (named in `field`), or the change is not possible as asked.
    #[response(status = 422)]
    Unprocessable(ApiError),
    /// The body or the file is too large.
    #[response(status = 413)]
    TooLarge(ApiError),
    /// The body's type is not one this route takes.
    #[response(status = 415)]
    UnsupportedType(ApiError),
    /// Too many requests: `Retry-After` says when to try again.
    #[response(status = 429)]
    TooManyRequests(ApiError),
    /// Not now: the store is shutting down, the moderator is unreachable.
    #[response(status = 503)]
    Unavailable(ApiError),
}

/// A refused HTTP request: status, code and explanation.
#[derive(Debug)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// The human-readable reason.
    pub message: String,
    /// For 429: how many seconds to wait (`Retry-After`).
    pub retry_after_secs: Option<u64>,
    /// The request field the failure is about, if one.
    pub field: Option<String>,
}

impl ApiFailure {
    /// A failure with an explicit status and code.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
            field: None,
        }
    }

    /// 422: one field of the request breaks a rule; nothing was saved.
    pub fn field(error: protocol::admin::FieldError) -> Self {
        Self {
            field: Some(error.field),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Malformed,
                error.message,
            )
        }
    }

    /// 429: a limit was reached; nothing was done, retry after `retry_after_secs`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        crate::telemetry::rate_limited("http");
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                message,
            )
        }
    }

    /// 401: missing, forged or expired credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ApiError {
                error: self.code,
                message: self.message,
                field: self.field,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<Refusal> for ApiFailure {
    fn from(refusal: Refusal) -> Self {
        Self::new(refusal.status(), refusal.code, refusal.message)
    }
}

impl From<StoreError> for ApiFailure {
    fn from(error: StoreError) -> Self {
        Refusal::from(&error).into()
    }
}
