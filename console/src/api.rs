//! The console's HTTP calls to the deployment that served it: where the deployments and the
//! moderator are, login and logout. Everything else goes over the WebSocket.

use protocol::{ApiError, ClientConfig, LoginRequest, LoginResponse};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Logs in; the error is a sentence to show under the form.
pub async fn login(email: String, password: String) -> Result<LoginResponse, String> {
    let body = serde_json::to_string(&LoginRequest { email, password }).expect("serialises");
    let (status, text) = request("POST", "/v1/operators/login", None, Some(body)).await?;
    if status == 200 {
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer from the server: {e}"))
    } else {
        Err(serde_json::from_str::<ApiError>(&text)
            .map(|e| e.message)
            .unwrap_or_else(|_| format!("the server answered {status}")))
    }
}

/// Where both deployments and the moderator are. When the deployment does not say (or cannot be
/// asked), the console talks to the deployment that served it only.
pub async fn client_config() -> ClientConfig {
    let own = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let fetched = request("GET", "/v1/client-config", None, None)
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
    let _ = request("POST", "/v1/operators/logout", Some(token), None).await;
}

async fn request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let unreachable = |_| "the server cannot be reached; try again in a moment".to_owned();
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(unreachable)?;
    if let Some(token) = token {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(unreachable)?;
    }
    if let Some(body) = &body {
        headers
            .set("Content-Type", "application/json")
            .map_err(unreachable)?;
        init.set_body(&body.into());
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(path, &init).map_err(unreachable)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(unreachable)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}
