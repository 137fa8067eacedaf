//! Both ends of a rebuild (see `store::rebuild`): the route by which we give the peer back its own
//! events, and the task by which we take ours back after starting on an empty or restored data
//! directory.

use super::puller::fetch_files;
use crate::error::ApiFailure;
use crate::extract::require_shared_secret;
use crate::hub::Event;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use backon::BackoffBuilder;
use protocol::replication::{ReturnedEvents, RETURNED_PAGE, RETURNED_PATH};
use protocol::ErrorCode;
use serde::Deserialize;
use std::time::Duration;

/// The longest deployment name the route takes (names are short words like `primary`).
const MAX_NAME: usize = 64;

/// The query of [`returned`].
#[derive(Deserialize)]
pub struct ReturnedQuery {
    origin: String,
    #[serde(default)]
    after: u64,
    below: u64,
}

fn bad(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, message)
}

/// `GET /v1/replication/returned`: the caller's own events held here, one page at a time, to the
/// peer only (the replication secret).
#[utoipa::path(
    get,
    path = "/v1/replication/returned",
    tag = "replication",
    summary = "The caller's events, to a deployment rebuilding from its peer",
    security(("replication" = [])),
    params(("origin" = String, Query, description = "The caller's deployment name"), ("after" = Option<u64>, Query, description = "Events after this sequence number"), ("below" = u64, Query, description = "Events below this sequence number")),
    responses((status = 200, description = "One page of the caller's own events held here", body = protocol::replication::ReturnedEvents), crate::error::Refusals)
)]
pub async fn returned(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ReturnedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ReturnedEvents>, ApiFailure> {
    require_shared_secret(
        &headers,
        state.config.replication_secret.as_deref(),
        "replication",
    )?;
    let Query(query) = query.map_err(|e| bad(format!("the request is not understood: {e}")))?;
    if query.origin.is_empty() || query.origin.len() > MAX_NAME {
        return Err(bad(format!(
            "`origin` must be a deployment name of 1 to {MAX_NAME} characters"
        )));
    }
    if query.origin == state.store.origin() {
        return Err(bad(format!(
            "`{}` is this deployment's own name: a deployment takes its events back from its peer, \
             so two deployments must not share a name",
            query.origin
        )));
    }
    let page = state
        .store
        .read(move |r| r.returned_events(&query.origin, query.after, query.below, RETURNED_PAGE))
        .await?;
    Ok(Json(page))
}

/// Takes our own events back from the peer while the data directory says a rebuild is pending,
/// then ends it. Runs beside the pull link, which brings the peer's own events meanwhile.
pub async fn run(state: AppState) {
    let Some(peer_url) = state.config.peer_url.clone() else {
        return;
    };
    let fresh = || {
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .without_max_times()
            .build()
    };
    let mut delays = fresh();
    let mut shutdown = state.shutdown.clone();
    loop {
        let outcome = tokio::select! {
            outcome = step(&state, &peer_url) => outcome,
            _ = shutdown.changed() => return,
        };
        match outcome {
            Ok(true) => {
                tokio::select! {
                    settled = settle(&state) => if let Err(reason) = settled {
                        tracing::warn!(%reason, "rebuild from the peer: could not settle; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    },
                    _ = shutdown.changed() => return,
                }
                state.link.update(|l| l.rebuilding = false);
                return;
            }
            Ok(false) => delays = fresh(),
            Err(reason) => {
                tracing::warn!(peer = %peer_url, %reason, "rebuild from the peer: could not take a page back; retrying");
                let delay = delays.next().unwrap_or(Duration::from_secs(5));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// How often settling applies held-back events again while the pull link catches up.
const SETTLE_EVERY: Duration = Duration::from_millis(200);

/// After the last page: applies the events held back during the rebuild again until none is
/// left, or until a pass made after the pull link had caught up still leaves some (then they
/// refer to nothing either deployment holds, and stay quarantined for an operator to look at).
async fn settle(state: &AppState) -> Result<(), String> {
    if !state
        .store
        .read(|r| r.rebuild_settling())
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(());
    }
    state.link.update(|l| l.rebuilding = true);
    loop {
        // Read before the pass, so that a pass counted as "after catching up" saw every event
        // the pull link had applied.
        let link = state.link.snapshot();
        let caught_up =
            link.pull_connected && link.head_known && link.applied_from_peer >= link.peer_head;
        let (touched, held) = state
            .store
            .write(move |w| {
                let (touched, held) = w.retry_held_back()?;
                if held == 0 || caught_up {
                    w.end_rebuild()?;
                }
                let touched = touched
                    .into_iter()
                    .filter_map(|id| w.conversation(id).ok().flatten())
                    .collect::<Vec<_>>();
                Ok((touched, held))
            })
            .await
            .map_err(|e| e.to_string())?;
        for conversation in touched {
            state.hub.publish(Event::Conversation { conversation });
        }
        if held == 0 {
            tracing::info!("rebuild from the peer finished: every event of ours it held is back");
            return Ok(());
        }
        if caught_up {
            tracing::error!(
                held,
                "rebuild from the peer finished, but events refer to what neither deployment holds: they stay quarantined"
            );
            return Ok(());
        }
        tokio::time::sleep(SETTLE_EVERY).await;
    }
}

/// Takes one page back; returns whether taking pages back is over.
async fn step(state: &AppState, peer_url: &str) -> Result<bool, String> {
    let (position, floor) = state
        .store
        .read(|r| Ok((r.rebuild_position()?, r.own_seq_floor()?)))
        .await
        .map_err(|e| e.to_string())?;
    let Some(after) = position else {
        return Ok(true);
    };
    state.link.update(|l| l.rebuilding = true);
    let me = state.store.origin().to_owned();
    let url = format!(
        "{}{RETURNED_PATH}?origin={}&after={after}&below={floor}",
        peer_url.trim_end_matches('/'),
        urlencoding(&me),
    );
    let client = daemon::http::HttpClient::with_tls(state.peer_tls.clone());
    let secret = state.config.replication_secret.clone().unwrap_or_default();
    let answer = client
        .call_limited(
            daemon::http::Method::GET,
            &url,
            Some(&secret),
            None,
            Duration::from_secs(60),
            64 << 20,
        )
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!(
            "{url} answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    let page: ReturnedEvents =
        serde_json::from_slice(&answer.body).map_err(|e| format!("{url}: {e}"))?;
    fetch_files(state, peer_url, &page.events)
        .await
        .map_err(|e| e.to_string())?;
    let count = page.events.len();
    let done = page.done;
    let next = (!done).then_some(page.next_after);
    let touched = state
        .store
        .write(move |w| {
            let mut touched = Vec::new();
            for event in &page.events {
                if let Some(conversation) = w.apply_returned(event)? {
                    if !touched.contains(&conversation) {
                        touched.push(conversation);
                    }
                }
            }
            w.set_rebuild_position(next)?;
            Ok(touched
                .into_iter()
                .filter_map(|id| w.conversation(id).ok().flatten())
                .collect::<Vec<_>>())
        })
        .await
        .map_err(|e| e.to_string())?;
    // Operators connected here see the conversations that came back.
    for conversation in touched {
        state.hub.publish(Event::Conversation { conversation });
    }
    tracing::info!(
        events = count,
        after,
        done,
        "rebuild from the peer: a page is back"
    );
    Ok(done)
}

/// Percent-encodes a deployment name for a query string (names are usually plain words).
fn urlencoding(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
