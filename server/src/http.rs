//! The HTTP endpoints under `/v1` and `/health`: operator login and logout, the inbox, a
//! conversation's messages, the console's client configuration, and the health check. Who may
//! call what is decided by the extractors of [`crate::extract`].

use crate::auth;
use crate::error::ApiFailure;
use crate::extract::{bearer_token, ApiJson, ApiPath, ApiQuery, ClientAddress, Operator};
use crate::identity::Identity;
use crate::state::AppState;
use crate::throttle::{retry_after_secs, Throttled};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::{
    ConversationId, ConversationSummary, ErrorCode, HealthReport, LoginRequest, LoginResponse,
    Message, OperatorProfile,
};
use serde::Deserialize;

/// These routes, for the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(client_config, login, logout, me, inbox, messages, health))]
pub struct Api;

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

#[utoipa::path(
    get,
    path = "/v1/client-config",
    tag = "console",
    summary = "The deployments and the moderator the console follows",
    responses((status = 200, description = "Where the deployments and the moderator are", body = protocol::ClientConfig), crate::error::Refusals)
)]
async fn client_config(State(state): State<AppState>) -> Json<protocol::ClientConfig> {
    Json(protocol::ClientConfig {
        deployments: state.config.public_urls.clone(),
        moderator: state.config.moderator_url.clone(),
    })
}

/// A PHC string that matches no password, hashed for unknown e-mail addresses.
const NO_ACCOUNT_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A login attempt that was not tried: 429 with how long to wait.
pub(crate) fn throttled(why: Throttled) -> ApiFailure {
    let wait = match why {
        Throttled::TooOften(wait) => retry_after_secs(&wait),
        Throttled::Busy => 1,
    };
    ApiFailure::too_many_requests(why.to_string(), wait)
}

#[utoipa::path(
    post,
    path = "/v1/operators/login",
    tag = "operators",
    summary = "Log an operator in",
    request_body = protocol::LoginRequest,
    responses((status = 200, description = "Logged in: a session token", body = protocol::LoginResponse), crate::error::Refusals)
)]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let refused = || ApiFailure::unauthorized("wrong e-mail address or password");
    let email = request.email.trim().to_owned();
    // Limits first: a refused attempt costs neither a read nor a password check.
    state.login.admit(address, &email).map_err(throttled)?;
    let found = state
        .store
        .read(move |r| r.operator_by_email(&email))
        .await?;
    // Hash even for an unknown e-mail so the answer takes as long either way and does not reveal
    // which addresses have accounts.
    let (operator, stored, disabled) = match found {
        Some(found) => (Some(found.operator), found.password_hash, found.disabled),
        None => (None, NO_ACCOUNT_HASH.to_owned(), false),
    };
    let password = request.password;
    let matches = state
        .login
        .verify(password, stored)
        .await
        .map_err(throttled)?;
    let operator = operator.filter(|_| matches).ok_or_else(refused)?;
    // Said only to whoever knows the password, so it reveals nothing to a guesser.
    if disabled {
        return Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this account is disabled; ask an admin of your team",
        ));
    }
    tracing::info!(operator = %operator.email, "operator logged in");
    start_session(&state, operator).await
}

/// Opens a session for `operator` (after a login, or an accepted invitation).
pub(crate) async fn start_session(
    state: &AppState,
    operator: OperatorProfile,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let expires_at = state.now_ms() + state.config.session_ttl_hours * 3_600_000;
    let id = operator.id;
    // Signed, so the other deployment accepts it before the session's record arrives there (the
    // console follows the active deployment within milliseconds of logging in). The clock value
    // in it is below the record's, so a password change the record would survive ends it too.
    let token = state
        .signer
        .issue_session(id, expires_at, state.store.last_hlc() + 1);
    let hash = auth::session_token_hash(&token);
    state
        .store
        .write(move |w| w.create_session(&hash, id, expires_at))
        .await?;
    Ok(Json(LoginResponse { token, operator }))
}

#[utoipa::path(
    post,
    path = "/v1/operators/logout",
    tag = "operators",
    summary = "End this session",
    security(("operator" = [])),
    responses((status = 204, description = "Logged out"), crate::error::Refusals)
)]
async fn logout(
    State(state): State<AppState>,
    _: Operator,
    headers: HeaderMap,
) -> Result<StatusCode, ApiFailure> {
    let hash = auth::session_token_hash(bearer_token(&headers).unwrap_or_default());
    state.store.write(move |w| w.delete_session(&hash)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/operators/me",
    tag = "operators",
    summary = "Who the session belongs to",
    security(("operator" = [])),
    responses((status = 200, description = "The operator of the session", body = protocol::OperatorProfile), crate::error::Refusals)
)]
async fn me(Operator(operator): Operator) -> Json<OperatorProfile> {
    Json(operator)
}

#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "conversations",
    summary = "The inbox",
    security(("operator" = [])),
    responses((status = 200, description = "Waiting and active conversations of the sites the operator serves, newest first", body = Vec<protocol::ConversationSummary>), crate::error::Refusals)
)]
async fn inbox(
    State(state): State<AppState>,
    Operator(operator): Operator,
) -> Result<Json<Vec<ConversationSummary>>, ApiFailure> {
    Ok(Json(
        state.store.read(move |r| r.inbox(&operator.sites)).await?,
    ))
}

#[derive(Deserialize)]
struct AfterSeq {
    #[serde(default)]
    after_seq: u64,
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/messages",
    tag = "conversations",
    summary = "A conversation's messages",
    security(("operator" = []), ("visitor" = [])),
    params(("id" = String, Path, description = "The conversation (a UUID)"), ("after_seq" = Option<u64>, Query, description = "Only messages stored after this sequence number")),
    responses((status = 200, description = "Messages in sequence order", body = Vec<protocol::Message>), crate::error::Refusals)
)]
async fn messages(
    State(state): State<AppState>,
    caller: Identity,
    ApiPath(id): ApiPath<String>,
    ApiQuery(AfterSeq { after_seq }): ApiQuery<AfterSeq>,
) -> Result<Json<Vec<Message>>, ApiFailure> {
    let id = ConversationId::parse(&id).map_err(|_| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
            "the conversation id is not a UUID",
        )
    })?;
    let conversation = state
        .store
        .read(move |r| r.conversation(id))
        .await?
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "conversation not found",
            )
        })?;
    if caller
        .operator()
        .is_some_and(|op| !op.sites.allows(&conversation.site_id))
    {
        return Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this conversation belongs to a site you do not serve",
        ));
    }
    if caller
        .visitor_id()
        .is_some_and(|visitor| visitor != conversation.visitor_id)
    {
        return Err(ApiFailure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this conversation belongs to another visitor",
        ));
    }
    let notes = caller.operator().is_some();
    Ok(Json(
        state
            .store
            .read(move |r| r.messages_after_for(id, after_seq, notes))
            .await?,
    ))
}

/// `GET /health`: 200 when the database takes durable writes, 503 otherwise. A load balancer
/// needs no more than that (and the protocol version); the replication state, the moderator's
/// decision and what failed are for callers holding the moderator's or the peer's secret.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "Health, for the moderator and load balancers",
    responses((status = 200, description = "Healthy", body = protocol::HealthReport), (status = 503, description = "Not healthy: the report says why", body = protocol::HealthReport))
)]
async fn health(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // A database file deleted under the deployment still takes writes (the open descriptor), so
    // the probe alone would report health while nothing written could ever be found again.
    let probe = match state.database.still_there() {
        Ok(()) => state.store.probe_durability_shared().await,
        Err(ghost) => Err(ghost),
    };
    let detailed = crate::extract::holds_operations_secret(&state, &headers);
    let report = HealthReport {
        ok: probe.is_ok(),
        protocol: protocol::PROTOCOL_VERSION,
        error: probe.err().filter(|_| detailed),
        replication: match detailed {
            true => Some(crate::replication::report(&state).await),
            false => None,
        },
        role: Some(state.role.known()).filter(|_| detailed),
        backup: Some(state.backups.report()).filter(|r| detailed && r.destination.is_some()),
        problems: match detailed {
            true => state.problems.report(),
            false => Vec::new(),
        },
    };
    let status = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(report)).into_response()
}
