//! History over HTTP, for the console: `GET /v1/history` (closed conversations of the sites the
//! caller serves, filtered and searched, a page at a time) and `GET /v1/history/{id}` (one
//! conversation's transcript with its notes and rating). Any operator with a session; the sites
//! they do not serve stay invisible (a conversation of one is not found).

use super::not_found;
use crate::error::ApiFailure;
use crate::extract::{ApiPath, Operator};
use crate::state::AppState;
use crate::store::history::Search;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::history::{fts_query, parse_cursor, HistoryPage, HistoryQuery, TranscriptPage};
use protocol::{ConversationId, ErrorCode};

fn bad(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, message)
}

#[utoipa::path(
    get,
    path = "/v1/history",
    tag = "history",
    summary = "Search past conversations",
    security(("operator" = [])),
    params(("q" = Option<String>, Query, description = "Words the messages contain"), ("site" = Option<String>, Query, description = "Only this site"), ("operator" = Option<String>, Query, description = "Only conversations this operator had last (a UUID)"), ("days" = Option<u32>, Query, description = "Only the last this many days"), ("rating" = Option<String>, Query, description = "good, bad or unrated"), ("before" = Option<String>, Query, description = "The cursor of the previous page")),
    responses((status = 200, description = "Up to 25 ended conversations and the next cursor", body = protocol::history::HistoryPage), crate::error::Refusals)
)]
pub(super) async fn history(
    State(state): State<AppState>,
    Operator(operator): Operator,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<HistoryPage>, ApiFailure> {
    let Query(query) = query.map_err(|e| bad(format!("the search is not understood: {e}")))?;
    let fts = fts_query(query.q.as_deref().unwrap_or_default()).map_err(bad)?;
    if let Some(site) = &query.site {
        crate::store::validate::site_id(site).map_err(bad)?;
        if !operator.sites.allows(site) {
            return Err(ApiFailure::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "you do not serve this site",
            ));
        }
    }
    let before = match &query.before {
        Some(cursor) => Some(
            parse_cursor(cursor)
                .ok_or_else(|| bad("`before` is not a cursor this deployment gave"))?,
        ),
        None => None,
    };
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from > to {
            return Err(bad("`from` is after `to`"));
        }
    }
    let search = Search { fts, query, before };
    let page = state
        .store
        .read(move |r| r.history(&operator, &search))
        .await?;
    Ok(Json(page))
}

#[utoipa::path(
    get,
    path = "/v1/history/{id}",
    tag = "history",
    summary = "One past conversation",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The conversation (a UUID)")),
    responses((status = 200, description = "The transcript with private notes", body = protocol::history::TranscriptPage), crate::error::Refusals)
)]
pub(super) async fn transcript(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TranscriptPage>, ApiFailure> {
    let id = uuid::Uuid::parse_str(&id)
        .map(ConversationId)
        .map_err(|_| not_found("conversation"))?;
    state
        .store
        .read(move |r| r.transcript(&operator, id))
        .await?
        .map(Json)
        .ok_or_else(|| not_found("conversation"))
}
