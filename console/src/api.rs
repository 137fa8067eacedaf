//! The console's HTTP calls to the deployment that served it: where the deployments and the
//! moderator are, login and logout, invitations, and the admin API. Chat goes over the
//! WebSocket. The requests go
//! through `gloo-net`'s `fetch` wrapper.

use crate::i18n::{t, t_with};
use gloo_net::http::{Request, RequestBuilder};
use protocol::{ApiError, ClientConfig, LoginRequest, LoginResponse};

/// Why a call failed; its text (from the console's catalogue) is the sentence shown under the
/// form.
#[derive(Debug)]
pub enum CallError {
    /// The deployment could not be reached (the network, or the deployment, is down).
    Unreachable,
    /// The deployment refused, and says why.
    Refused(String),
    /// The deployment answered with a status and no readable explanation.
    Status(u16),
    /// The answer was not what the API promises.
    Unreadable(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            CallError::Unreachable => t("api.unreachable"),
            CallError::Refused(why) => why.clone(),
            CallError::Status(status) => t_with("api.status", &[("status", &status.to_string())]),
            CallError::Unreadable(why) => t_with("api.unreadable", &[("why", why)]),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for CallError {}

/// Logs in.
pub async fn login(email: String, password: String) -> Result<LoginResponse, CallError> {
    let body = serde_json::to_string(&LoginRequest { email, password }).expect("serialises");
    let (status, text) = send(Request::post("/v1/operators/login"), Some(body)).await?;
    if status == 200 {
        serde_json::from_str(&text).map_err(|e| CallError::Unreadable(e.to_string()))
    } else {
        Err(serde_json::from_str::<ApiError>(&text)
            .map(|e| CallError::Refused(e.message))
            .unwrap_or(CallError::Status(status)))
    }
}

/// Where both deployments and the moderator are. When the deployment does not say (or cannot be
/// asked), the console talks to the deployment that served it only.
pub async fn client_config() -> ClientConfig {
    let own = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let fetched = send(Request::get("/v1/client-config"), None)
        .await
        .ok()
        .filter(|(status, _)| *status == 200)
        .and_then(|(_, text)| serde_json::from_str::<ClientConfig>(&text).ok());
    let mut config = fetched.unwrap_or(ClientConfig {
        deployments: Vec::new(),
        moderator: None,
    });
    if config.deployments.is_empty() {
        config.deployments.push(own);
    }
    config
}

/// Ends the session on the server. Failure is not shown: the console forgets the token anyway.
pub async fn logout(token: &str) {
    let request =
        Request::post("/v1/operators/logout").header("Authorization", &format!("Bearer {token}"));
    let _ = send(request, None).await;
}

/// Accepts an invitation: chooses the password and logs in.
pub async fn accept_invitation(
    token: String,
    password: String,
) -> Result<LoginResponse, CallError> {
    let body = serde_json::to_string(&protocol::admin::AcceptInvitation { token, password })
        .expect("serialises");
    let (status, text) = send(Request::post("/v1/operators/invitation"), Some(body)).await?;
    if status == 200 {
        serde_json::from_str(&text).map_err(|e| CallError::Unreadable(e.to_string()))
    } else {
        Err(refusal(status, &text).0)
    }
}

/// A refused admin call: the sentence, and the request field it is about, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// What to show.
    pub message: String,
    /// The field to show it next to.
    pub field: Option<String>,
}

/// How long an admin call waits for one deployment before trying the next (a frozen one accepts
/// the connection and never answers).
const ADMIN_CALL_TIMEOUT_MS: u64 = 5_000;

/// A call of the admin API (`/v1/admin/...`) with the session token: `method` on `path` with an
/// optional JSON body, answered with JSON (or nothing, for 204). It goes to the first of `bases`
/// (deployment base URLs, `""` for the one that served the console) that answers: every change
/// replicates, so either deployment serves the admin area, and a dead one costs a moment, not
/// the admin's work. Only an unreachable deployment is skipped; a refusal is the answer.
pub async fn admin<T: serde::de::DeserializeOwned>(
    method: &str,
    path: &str,
    token: &str,
    body: Option<String>,
    bases: &[String],
) -> Result<Option<T>, Refused> {
    let mut answer = Err(CallError::Unreachable);
    for base in bases {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let request = match method {
            "POST" => Request::post(&url),
            "PUT" => Request::put(&url),
            "PATCH" => Request::patch(&url),
            "DELETE" => Request::delete(&url),
            _ => Request::get(&url),
        }
        .header("Authorization", &format!("Bearer {token}"));
        let abort = web_sys::AbortController::new().ok();
        let request = request.abort_signal(abort.as_ref().map(|a| a.signal()).as_ref());
        if let Some(abort) = abort.clone() {
            browser::set_timeout(ADMIN_CALL_TIMEOUT_MS, move || abort.abort());
        }
        answer = send(request, body.clone()).await;
        if !matches!(answer, Err(CallError::Unreachable)) {
            break;
        }
    }
    let (status, text) = answer.map_err(|e| Refused {
        message: e.to_string(),
        field: None,
    })?;
    match status {
        204 => Ok(None),
        200..=299 => serde_json::from_str(&text).map(Some).map_err(|e| Refused {
            message: CallError::Unreadable(e.to_string()).to_string(),
            field: None,
        }),
        _ => {
            let (error, field) = refusal(status, &text);
            Err(Refused {
                message: error.to_string(),
                field,
            })
        }
    }
}

/// The error of a refused call, and the field it names.
fn refusal(status: u16, text: &str) -> (CallError, Option<String>) {
    match serde_json::from_str::<ApiError>(text) {
        Ok(e) => (CallError::Refused(e.message), e.field),
        Err(_) => (CallError::Status(status), None),
    }
}

/// Sends a request (with a JSON body, if any) and reads the answer's status and text.
async fn send(request: RequestBuilder, json: Option<String>) -> Result<(u16, String), CallError> {
    let unreachable = |_| CallError::Unreachable;
    let response = match json {
        Some(body) => {
            request
                .header("Content-Type", "application/json")
                .body(body)
                .map_err(unreachable)?
                .send()
                .await
        }
        None => request.send().await,
    }
    .map_err(unreachable)?;
    let text = response.text().await.map_err(unreachable)?;
    Ok((response.status(), text))
}
