//! The console's HTTP calls to the deployment that served it: where the deployments and the
//! moderator are, login and logout. Everything else goes over the WebSocket. The requests go
//! through `gloo-net`'s `fetch` wrapper.

use gloo_net::http::{Request, RequestBuilder};
use protocol::{ApiError, ClientConfig, LoginRequest, LoginResponse};

/// Why a call failed; its text is the sentence shown under the form.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The deployment could not be reached (the network, or the deployment, is down).
    #[error("the server cannot be reached; try again in a moment")]
    Unreachable,
    /// The deployment refused, and says why.
    #[error("{0}")]
    Refused(String),
    /// The deployment answered with a status and no readable explanation.
    #[error("the server answered {0}")]
    Status(u16),
    /// The answer was not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Unreadable(String),
}

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
