//! The file routes: `POST /v1/files` stores a file a visitor or an operator is about to send
//! (by the hash of its bytes, durably, before answering), `GET /v1/files/{hash}` serves it to the
//! participants of a conversation whose messages carry it, and `GET /v1/replication/files/{hash}`
//! hands it to the peer deployment, which fetches every file before it applies the message that
//! carries it.
//!
//! What a browser does with a served file is decided here: the safe image types are served as
//! themselves (the widget shows them inline); everything else as `application/octet-stream`
//! with `Content-Disposition: attachment`, and every answer with `nosniff` (the security
//! headers), so an uploaded HTML page or script never runs on the deployment's origin.

use crate::error::ApiFailure;
use crate::extract::{require_shared_secret, ApiPath, ClientAddress};
use crate::identity::Identity;
use crate::state::AppState;
use crate::throttle::retry_after_secs;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::conversation::Attachment;
use protocol::files::FileRules;
use protocol::ErrorCode;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// These routes, for the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(upload, download, to_peer))]
pub struct Api;

/// The routes.
///
/// The widget uploads and downloads from customers' pages, so the two file routes answer any
/// origin: they are authorised by a bearer token, never by a cookie, so a page that has no
/// token can do nothing with them.
pub fn router() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-file-name"),
        ])
        .expose_headers([header::CONTENT_DISPOSITION]);
    Router::new()
        .route("/v1/files", post(upload))
        .route("/v1/files/{hash}", get(download))
        .layer(cors)
        .route("/v1/replication/files/{hash}", get(to_peer))
}

/// The file's name from `X-File-Name` (percent-encoded UTF-8, as browsers' `encodeURIComponent`
/// writes it).
fn file_name(headers: &HeaderMap) -> Result<String, ApiFailure> {
    let raw = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("name the file in an X-File-Name header"))?;
    let name = url::form_urlencoded::parse(format!("n={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.replace('+', " "))
        .unwrap_or_default();
    Ok(name)
}

fn bad(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, message)
}

/// `POST /v1/files`: the bytes of a file, with its type in `Content-Type` and its name in
/// `X-File-Name`; answered with the attachment to send (201) once the file is on disk.
#[utoipa::path(
    post,
    path = "/v1/files",
    tag = "files",
    summary = "Upload a file",
    security(("operator" = []), ("visitor" = [])),
    params(("x-file-name" = String, Header, description = "The file's name, percent-encoded UTF-8")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes; its type in Content-Type"),
    responses((status = 201, description = "Stored durably here: the attachment to send in a message", body = protocol::files::Attachment), crate::error::Refusals)
)]
async fn upload(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    caller: Identity,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiFailure> {
    state.visitors.upload(address).map_err(|wait| {
        ApiFailure::too_many_requests(
            "too many files from this address; try again in a moment",
            retry_after_secs(&wait),
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let rules = rules_for(&state, &caller).await?;
    if !rules.types.contains(&content_type) {
        return Err(ApiFailure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Forbidden,
            format!("files of type `{content_type}` cannot be sent here"),
        ));
    }
    let name = file_name(&headers)?;
    let limit = rules.max_bytes.min(usize::MAX as u64) as usize;
    let too_large = || {
        ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "files are limited to {}",
                protocol::files::size_label(limit as u64)
            ),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    if bytes.is_empty() {
        return Err(bad("the file is empty"));
    }
    let size = bytes.len() as u64;
    let files = state.files.clone();
    let hash = tokio::task::spawn_blocking(move || files.put(&bytes))
        .await
        .map_err(|e| ApiFailure::from(crate::store::StoreError::NotCommitted(e.to_string())))?
        .map_err(|e| {
            tracing::error!(error = %e, "could not store a file");
            ApiFailure::from(crate::store::StoreError::Io(e))
        })?;
    let attachment = Attachment {
        hash,
        name,
        size,
        content_type,
    };
    attachment.check().map_err(bad)?;
    Ok((StatusCode::CREATED, Json(attachment)).into_response())
}

/// The rules an upload by `caller` must keep: the deployment's, narrowed by the site's for a
/// visitor (an operator's site is known only when the message is sent, and checked then).
async fn rules_for(state: &AppState, caller: &Identity) -> Result<FileRules, ApiFailure> {
    let deployment = state.config.file_rules();
    let Identity::Visitor { site_id, .. } = caller else {
        return Ok(deployment);
    };
    let site = site_id.clone();
    let forms = state.store.read(move |r| r.site_forms(&site)).await?;
    Ok(match forms.files {
        Some(rules) => rules.within(&deployment),
        None => deployment,
    })
}

/// `GET /v1/files/{hash}`: the file, to a participant of a conversation that carries it.
#[utoipa::path(
    get,
    path = "/v1/files/{hash}",
    tag = "files",
    summary = "Download a file of a conversation the caller takes part in",
    security(("operator" = []), ("visitor" = [])),
    params(("hash" = String, Path, description = "The file's SHA-256, hex")),
    responses((status = 200, description = "The file: inline for a safe image type, otherwise as a download", content_type = "application/octet-stream", body = Vec<u8>), crate::error::Refusals)
)]
async fn download(
    State(state): State<AppState>,
    caller: Identity,
    ApiPath(hash): ApiPath<String>,
) -> Result<Response, ApiFailure> {
    let not_found = || {
        ApiFailure::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such file in your conversations",
        )
    };
    if !crate::files::is_hash(&hash) {
        return Err(not_found());
    }
    let lookup = hash.clone();
    let attachment = state
        .store
        .read(move |r| r.readable_attachment(&lookup, &caller))
        .await?
        .ok_or_else(not_found)?;
    let files = state.files.clone();
    let bytes = tokio::task::spawn_blocking(move || files.read(&hash))
        .await
        .map_err(|e| ApiFailure::from(crate::store::StoreError::NotCommitted(e.to_string())))?
        .map_err(|_| not_found())?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    let (content_type, disposition) = match attachment.is_image() {
        true => (attachment.content_type.as_str(), "inline"),
        false => ("application/octet-stream", "attachment"),
    };
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let encoded: String =
        url::form_urlencoded::byte_serialize(attachment.name.as_bytes()).collect();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{disposition}; filename*=UTF-8''{}",
        encoded.replace('+', "%20")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// `GET /v1/replication/files/{hash}`: a stored file, to the peer (the replication secret).
#[utoipa::path(
    get,
    path = "/v1/replication/files/{hash}",
    tag = "replication",
    summary = "A stored file, to the peer deployment",
    security(("replication" = [])),
    params(("hash" = String, Path, description = "The file's SHA-256, hex")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, description = "Without the replication secret"), (status = 404, description = "Not stored here"))
)]
async fn to_peer(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(hash): ApiPath<String>,
) -> Response {
    if let Err(refused) = require_shared_secret(
        &headers,
        state.config.replication_secret.as_deref(),
        "replication",
    ) {
        return refused.into_response();
    }
    let files = state.files.clone();
    match tokio::task::spawn_blocking(move || files.read(&hash)).await {
        Ok(Ok(bytes)) => Body::from(bytes).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
