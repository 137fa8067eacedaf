//! The HTTP endpoints under `/v1` and `/health`: operator login and logout, the inbox, a
//! conversation's messages, and the health check.

use crate::auth::{self, VisitorClaims};
use crate::error::ApiFailure;
use crate::store::{now_ms, records};
use crate::AppState;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::{
    ConversationId, ConversationSummary, ErrorCode, HealthReport, LoginRequest, LoginResponse,
    Message, OperatorProfile,
};
use serde::Deserialize;

/// The HTTP API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/operators/login", post(login))
        .route("/v1/operators/logout", post(logout))
        .route("/v1/operators/me", get(me))
        .route("/v1/conversations", get(inbox))
        .route("/v1/conversations/{id}/messages", get(messages))
        .route("/v1/client-config", get(client_config))
        .route("/health", get(health))
}

async fn client_config(State(state): State<AppState>) -> Json<protocol::ClientConfig> {
    Json(protocol::ClientConfig {
        deployments: state.config.public_urls.clone(),
        moderator: state.config.moderator_url.clone(),
    })
}

/// A JSON body whose rejections (malformed, too large, wrong content type) are answered in the
/// API's JSON error format instead of axum's plain text.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiFailure::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::TooLarge,
                    "the request body is larger than this deployment accepts",
                ))
            }
            Err(rejection) => Err(ApiFailure::new(
                rejection.status(),
                ErrorCode::Malformed,
                rejection.body_text(),
            )),
        }
    }
}

/// Who made a request, from its `Authorization: Bearer` header.
pub enum Caller {
    /// An operator with a live session.
    Operator(OperatorProfile),
    /// A visitor with a valid token.
    Visitor(VisitorClaims),
}

/// Reads and checks the bearer token. Visitor tokens are signed (they contain a `.`); operator
/// session tokens are random and looked up by hash.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiFailure> {
    let token = bearer_token(headers)
        .ok_or_else(|| ApiFailure::unauthorized("missing Authorization: Bearer token"))?
        .to_owned();
    if token.contains('.') {
        return state
            .signer
            .verify(&token, now_ms() / 1000)
            .map(Caller::Visitor)
            .map_err(|e| ApiFailure::unauthorized(e.to_string()));
    }
    operator_session(state, &token)
        .await?
        .map(Caller::Operator)
        .ok_or_else(|| {
            ApiFailure::unauthorized("the session is unknown or has expired; log in again")
        })
}

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim())
}

/// The operator owning a session token, if the session is live.
pub async fn operator_session(
    state: &AppState,
    token: &str,
) -> Result<Option<OperatorProfile>, ApiFailure> {
    let hash = auth::session_token_hash(token);
    Ok(state
        .store
        .read(move |conn| records::session_operator(conn, &hash))
        .await?)
}

async fn require_operator(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<OperatorProfile, ApiFailure> {
    match authenticate(state, headers).await? {
        Caller::Operator(op) => Ok(op),
        Caller::Visitor(_) => Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "operators only",
        )),
    }
}

async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let refused = || ApiFailure::unauthorized("wrong e-mail address or password");
    let email = request.email.trim().to_owned();
    let found = state
        .store
        .read(move |conn| records::operator_by_email(conn, &email))
        .await?;
    // Hash even for an unknown e-mail so the answer takes as long either way and does not reveal
    // which addresses have accounts.
    let (operator, stored) = match found {
        Some((operator, stored)) => (Some(operator), stored),
        None => (None, String::from("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
    };
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&password, &stored))
        .await
        .unwrap_or(false);
    let operator = operator.filter(|_| matches).ok_or_else(refused)?;
    let token = auth::new_session_token();
    let hash = auth::session_token_hash(&token);
    let expires_at = now_ms() + state.config.session_ttl_hours * 3_600_000;
    let id = operator.id;
    state
        .store
        .write(move |conn| records::create_session(conn, &hash, id, expires_at))
        .await?;
    tracing::info!(operator = %operator.email, "operator logged in");
    Ok(Json(LoginResponse { token, operator }))
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiFailure> {
    require_operator(&state, &headers).await?;
    let hash = auth::session_token_hash(bearer_token(&headers).unwrap_or_default());
    state
        .store
        .write(move |conn| records::delete_session(conn, &hash))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<OperatorProfile>, ApiFailure> {
    Ok(Json(require_operator(&state, &headers).await?))
}

async fn inbox(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<ConversationSummary>>, ApiFailure> {
    require_operator(&state, &headers).await?;
    Ok(Json(state.store.read(records::inbox).await?))
}

#[derive(Deserialize)]
struct AfterSeq {
    #[serde(default)]
    after_seq: u64,
}

async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(AfterSeq { after_seq }): Query<AfterSeq>,
) -> Result<Json<Vec<Message>>, ApiFailure> {
    let caller = authenticate(&state, &headers).await?;
    let id = ConversationId::parse(&id).map_err(|_| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
            "the conversation id is not a UUID",
        )
    })?;
    let conversation = state
        .store
        .read(move |conn| records::conversation(conn, id))
        .await?
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "conversation not found",
            )
        })?;
    if let Caller::Visitor(claims) = caller {
        if claims.visitor_id != conversation.visitor_id {
            return Err(ApiFailure::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "this conversation belongs to another visitor",
            ));
        }
    }
    Ok(Json(
        state
            .store
            .read(move |conn| records::messages_after(conn, id, after_seq))
            .await?,
    ))
}

/// `GET /health`: 200 when a durable write succeeds now, 503 otherwise.
async fn health(State(state): State<AppState>) -> Response {
    let probe = state.store.write(records::health_probe).await;
    let report = HealthReport {
        ok: probe.is_ok(),
        protocol: protocol::PROTOCOL_VERSION,
        error: probe.err().map(|e| e.to_string()),
        replication: Some(crate::replication::report(&state).await),
        role: Some(state.role.known()),
    };
    let status = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(report)).into_response()
}
