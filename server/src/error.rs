//! How failures reach clients: an [`ErrorCode`] and a sentence, never internals. Database failures
//! are logged here and shown to the client as [`ErrorCode::Internal`] ("retry"), because a client's
//! only useful reaction is to retry later, which is always safe thanks to idempotent ingest.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::{ApiError, ErrorCode};

/// A refused HTTP request: status, code and explanation.
#[derive(Debug)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// The human-readable reason.
    pub message: String,
}

impl ApiFailure {
    /// A failure with an explicit status and code.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: missing, forged or expired credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ApiError {
                error: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiFailure {
    fn from(error: StoreError) -> Self {
        let (code, message) = describe(&error);
        let status = match code {
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::Conflict | ErrorCode::ConversationClosed => StatusCode::CONFLICT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, code, message)
    }
}

/// The code and client-facing sentence for a storage failure. Internal failures are logged.
pub fn describe(error: &StoreError) -> (ErrorCode, String) {
    match error {
        StoreError::NotFound(what) => (ErrorCode::NotFound, format!("{what} not found")),
        StoreError::Conflict(why) => (ErrorCode::Conflict, why.clone()),
        StoreError::Forbidden(why) => (ErrorCode::Forbidden, why.clone()),
        StoreError::ConversationClosed => (ErrorCode::ConversationClosed, error.to_string()),
        StoreError::Sqlite(_)
        | StoreError::NotCommitted(_)
        | StoreError::NewerSchema { .. }
        | StoreError::Io(_)
        | StoreError::Closed => {
            tracing::error!(%error, "storage failure");
            (
                ErrorCode::Internal,
                "the deployment could not store this; nothing was saved, retry later".into(),
            )
        }
    }
}
