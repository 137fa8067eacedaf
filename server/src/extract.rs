//! What handlers take from a request: the caller's [`Identity`] (from a bearer token: a signed
//! visitor token or an operator session), the role checks, the shared secrets the peer deployment
//! and the moderator present, and JSON bodies refused in the API's error format.
//!
//! HTTP handlers and WebSocket sessions both come here, so a token means the same thing on every
//! route, and every expiry check reads the deployment's one clock ([`AppState::now_ms`]).

use crate::auth::{self, AuthError};
use crate::error::{ApiFailure, Refusal};
use crate::identity::Identity;
use crate::state::AppState;
use crate::store::SessionStatus;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use protocol::{ErrorCode, OperatorProfile, SiteId};

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim())
}

/// Checks a bearer token: a signed visitor token, or else an operator session token (signed, or
/// random from before sessions were signed) looked up by hash.
pub async fn identify(state: &AppState, token: &str) -> Result<Identity, Refusal> {
    match state.signer.verify(token, state.now_ms() / 1000) {
        Ok(claims) => {
            return Ok(Identity::Visitor {
                visitor_id: claims.visitor_id,
                site_id: claims.site_id,
                page_url: None,
            })
        }
        Err(e @ AuthError::Expired) => return Err(Refusal::unauthorized(e.to_string())),
        Err(AuthError::Invalid) => {}
    }
    operator_session(state, token)
        .await?
        .map(Identity::Operator)
        .ok_or_else(|| {
            Refusal::unauthorized("the token is invalid or its session has ended; log in again")
        })
}

/// The operator owning a session token, if the session is live now.
pub async fn operator_session(
    state: &AppState,
    token: &str,
) -> Result<Option<OperatorProfile>, Refusal> {
    Ok(match session_status(state, token).await? {
        SessionStatus::Live { operator, .. } => Some(operator),
        _ => None,
    })
}

/// What a session token is worth now on this deployment: its record, or, while the record is on
/// its way from the deployment where the operator logged in, what its signature vouches for.
pub async fn session_status(state: &AppState, token: &str) -> Result<SessionStatus, Refusal> {
    let hash = auth::session_token_hash(token);
    let now = state.now_ms();
    let claimed = state.signer.verify_session(token, now).ok();
    Ok(state
        .store
        .read(move |r| r.session_status(&hash, now, claimed.as_ref()))
        .await?)
}

/// The visitor a token names, checked for its site and its expiry (a visitor's `hello`).
pub fn visitor_token(
    state: &AppState,
    site_id: &SiteId,
    token: &str,
) -> Result<protocol::VisitorId, Refusal> {
    match state.signer.verify(token, state.now_ms() / 1000) {
        Ok(claims) if claims.site_id == *site_id => Ok(claims.visitor_id),
        Ok(_) => Err(Refusal::unauthorized(
            "the visitor token is for another site",
        )),
        Err(AuthError::Expired) => Err(Refusal::unauthorized("the visitor token has expired")),
        Err(AuthError::Invalid) => Err(Refusal::unauthorized("the visitor token is invalid")),
    }
}

/// The role check for operator-only actions.
pub fn require_operator(identity: &Identity) -> Result<&OperatorProfile, Refusal> {
    identity
        .operator()
        .ok_or_else(|| Refusal::forbidden("operators only"))
}

/// Checks the shared secret the peer deployment or the moderator presents as a bearer token.
/// `configured` is ours; `None` accepts nobody. `who` names the secret in the refusal.
pub fn require_shared_secret(
    headers: &HeaderMap,
    configured: Option<&str>,
    who: &str,
) -> Result<(), ApiFailure> {
    let presented = bearer_token(headers).unwrap_or_default();
    if auth::shared_secret_matches(configured, presented) {
        Ok(())
    } else {
        Err(ApiFailure::unauthorized(format!(
            "the {who} secret is missing or wrong"
        )))
    }
}

/// Whether the caller presents the moderator's or the peer's secret: what detailed health and
/// the replication status require, since they tell an outsider how the pair is doing.
pub fn holds_operations_secret(state: &AppState, headers: &HeaderMap) -> bool {
    let presented = bearer_token(headers).unwrap_or_default();
    auth::shared_secret_matches(state.config.moderator_secret.as_deref(), presented)
        || auth::shared_secret_matches(state.config.replication_secret.as_deref(), presented)
}

/// The moderator's or the peer's secret, as a request guard (401 otherwise).
pub struct OperationsSecret;

impl FromRequestParts<AppState> for OperationsSecret {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        if holds_operations_secret(state, &parts.headers) {
            Ok(OperationsSecret)
        } else {
            Err(ApiFailure::unauthorized(
                "this needs the moderator's or the replication secret",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Identity {
    type Rejection = ApiFailure;

    /// The caller of an HTTP request, from its `Authorization: Bearer` header.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiFailure::unauthorized("missing Authorization: Bearer token"))?
            .to_owned();
        Ok(identify(state, &token).await?)
    }
}

/// The client's address, when the connection's is known (real sockets; `oneshot` tests have
/// none). Behind a reverse proxy listed in `trusted_proxies`, it is the address the proxy names in
/// `X-Forwarded-For`: the rightmost entry that is not itself a trusted proxy (entries further left
/// were written by the client and prove nothing). From any other peer the header is ignored, so
/// nobody picks their own address to dodge the limits.
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(ClientAddress(peer.map(|peer| {
            forwarded_client(peer, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

/// The client behind `peer` (see [`ClientAddress`]).
pub fn forwarded_client(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let chain: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| entry.trim().parse())
        .collect::<Result<_, _>>()
        // A malformed header is the proxy's or the client's mistake: the proxy is the client.
        .unwrap_or_default();
    chain
        .into_iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .unwrap_or(peer)
}

/// An HTTP caller who must be an operator: 401 without a live session, 403 for a visitor.
pub struct Operator(pub OperatorProfile);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        let identity = Identity::from_request_parts(parts, state).await?;
        Ok(Operator(require_operator(&identity)?.clone()))
    }
}

/// An HTTP caller who must be an admin: 401 without a live session, 403 for an agent or a
/// visitor. Every admin route takes it, so the role is enforced here, not by the console hiding
/// buttons.
pub struct Admin(pub OperatorProfile);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        let Operator(operator) = Operator::from_request_parts(parts, state).await?;
        if operator.role != protocol::OperatorRole::Admin {
            return Err(ApiFailure::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "only admins may do this",
            ));
        }
        Ok(Admin(operator))
    }
}

/// A request from the moderator: its shared secret as the bearer token (401 otherwise). As an
/// extractor it runs before the body is parsed.
pub struct Moderator;

impl FromRequestParts<AppState> for Moderator {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        require_shared_secret(
            &parts.headers,
            state.config.moderator_secret.as_deref(),
            "moderator",
        )?;
        Ok(Moderator)
    }
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

/// Path parameters whose rejection (a segment that is not valid percent-encoded UTF-8, or not
/// the type asked for) is answered as an `ApiError` like every other refusal.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| malformed(rejection.body_text()))
    }
}

/// A query string whose rejection is answered as an `ApiError`, naming what was not understood.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| malformed(rejection.body_text()))
    }
}

/// A refusal of parameters that are not understood, saying what was not.
fn malformed(what: String) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, what)
}
