//! The admin API through the real router: roles enforced on the server, bad input refused with
//! the field it is about and nothing saved, sites and their widget configuration, the team
//! (invitations, disabling, removal, the last admin), and agents who serve some sites only.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use protocol::{ClientFrame, ServerFrame, Session};
use serde_json::{json, Value};
use support::{TestServer, ORIGIN, PASSWORD};
use tower::ServiceExt;

/// Every admin route with a body that would be valid, so only the role decides.
fn admin_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let site = json!({"id": "shop", "name": "Shop", "allowed_origins": ["https://shop.example"]});
    let appearance = serde_json::to_value(protocol::admin::Appearance::default()).unwrap();
    let forms = serde_json::to_value(protocol::admin::SiteForms::default()).unwrap();
    let operator = json!({"email": "carol@example.com", "name": "Carol", "role": "agent", "password": PASSWORD});
    let id = "/v1/admin/operators/0190a6b0-0000-7000-8000-000000000000";
    vec![
        ("GET", "/v1/admin/sites", None),
        ("POST", "/v1/admin/sites", Some(site.clone())),
        ("GET", "/v1/admin/sites/acme", None),
        ("PUT", "/v1/admin/sites/acme", Some(site)),
        ("DELETE", "/v1/admin/sites/acme", None),
        ("PUT", "/v1/admin/sites/acme/appearance", Some(appearance)),
        ("PUT", "/v1/admin/sites/acme/forms", Some(forms)),
        ("POST", "/v1/admin/sites/acme/identity-secret", None),
        ("GET", "/v1/admin/sites/acme/snippet", None),
        ("GET", "/v1/admin/operators", None),
        ("POST", "/v1/admin/operators", Some(operator)),
        ("PATCH", id, Some(json!({"role": "admin"}))),
        ("DELETE", id, None),
        (
            "POST",
            "/v1/admin/operators/0190a6b0-0000-7000-8000-000000000000/invitation",
            None,
        ),
    ]
}

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    server
        .http(method, path, token, body.map(|b| b.to_string()))
        .await
}

#[tokio::test]
async fn every_admin_route_refuses_agents_with_403_and_strangers_with_401_and_changes_nothing() {
    let server = TestServer::start().await;
    let agent = server.login("bob@example.com").await.token;
    let head_before = server.state.store.read(|r| r.max_hlc()).await.unwrap();
    for (method, path, body) in admin_routes() {
        let (status, json) = call(&server, method, path, Some(&agent), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {json}");
        assert_eq!(json["error"], "forbidden");
        let (status, _) = call(&server, method, path, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let head_after = server.state.store.read(|r| r.max_hlc()).await.unwrap();
    assert_eq!(head_before, head_after, "a refused call wrote something");
}

#[tokio::test]
async fn sites_are_created_edited_and_removed_and_bad_input_names_its_field_and_saves_nothing() {
    let server = TestServer::start().await;
    let admin = server.login("alice@example.com").await.token;
    let admin = Some(admin.as_str());
    let (status, site) = call(
        &server,
        "POST",
        "/v1/admin/sites",
        admin,
        Some(json!({"id": "shop", "name": "Shop", "allowed_origins": ["https://Shop.Example:443/", ""]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    assert_eq!(site["allowed_origins"], json!(["https://shop.example"]));
    let secret = site["identity_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);

    let refusals = [
        (
            "POST",
            "/v1/admin/sites",
            json!({"id": "shop", "name": "Again", "allowed_origins": ["*"]}),
            StatusCode::CONFLICT,
            "id",
        ),
        (
            "POST",
            "/v1/admin/sites",
            json!({"id": "a b", "name": "Spaces", "allowed_origins": ["*"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            "POST",
            "/v1/admin/sites",
            json!({"id": "new", "name": "New", "allowed_origins": ["https://x.example/path"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "allowed_origins",
        ),
        (
            "POST",
            "/v1/admin/sites",
            json!({"id": "new", "name": "New", "allowed_origins": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "allowed_origins",
        ),
        (
            "POST",
            "/v1/admin/sites",
            json!({"id": "new", "name": "x".repeat(201), "allowed_origins": ["*"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "PUT",
            "/v1/admin/sites/shop",
            json!({"name": "Shop", "allowed_origins": ["javascript:alert(1)"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "allowed_origins",
        ),
        (
            "PUT",
            "/v1/admin/sites/shop/appearance",
            json!({"accentColor": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "accent_color",
        ),
        (
            "PUT",
            "/v1/admin/sites/shop/appearance",
            json!({"language": "tlh"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "language",
        ),
        (
            "PUT",
            "/v1/admin/sites/shop/appearance",
            json!({"greeting": "x".repeat(501)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "greeting",
        ),
        (
            "PUT",
            "/v1/admin/sites/shop/forms",
            json!({"prechat": {"enabled": true, "fields": []}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "prechat.fields",
        ),
    ];
    let head_before = server.state.store.read(|r| r.max_hlc()).await.unwrap();
    for (method, path, body, status, field) in refusals {
        let (got, json) = call(&server, method, path, admin, Some(body)).await;
        assert_eq!(got, status, "{method} {path}: {json}");
        assert_eq!(json["field"], field, "{method} {path}: {json}");
        assert!(!json["message"].as_str().unwrap().is_empty());
    }
    let (status, json) = call(
        &server,
        "PUT",
        "/v1/admin/sites/shop/appearance",
        admin,
        Some(json!("not an object")),
    )
    .await;
    assert!(status.is_client_error(), "{json}");
    let head_after = server.state.store.read(|r| r.max_hlc()).await.unwrap();
    assert_eq!(head_before, head_after, "a refused change wrote something");
    let (status, _) = call(&server, "GET", "/v1/admin/sites/nope", admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A new look; the rotated secret differs.
    let look = json!({"accentColor": "#aa3300", "title": "Shop help", "position": "bottom_left"});
    let (status, site) = call(
        &server,
        "PUT",
        "/v1/admin/sites/shop/appearance",
        admin,
        Some(look),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{site}");
    assert_eq!(site["appearance"]["accentColor"], "#aa3300");
    assert_eq!(
        site["appearance"]["greeting"],
        protocol::admin::Appearance::default().greeting
    );
    let (_, site) = call(
        &server,
        "POST",
        "/v1/admin/sites/shop/identity-secret",
        admin,
        None,
    )
    .await;
    assert_ne!(site["identity_secret"].as_str().unwrap(), secret);
    let (_, list) = call(&server, "GET", "/v1/admin/sites", admin, None).await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "shop"]);

    // Removal: gone from the list and the widget's configuration; its id is not given out again.
    let (status, _) = call(&server, "DELETE", "/v1/admin/sites/shop", admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = call(&server, "GET", "/v1/admin/sites", admin, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _, _) = widget_config(&server, "shop", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, json) = call(
        &server,
        "POST",
        "/v1/admin/sites",
        admin,
        Some(json!({"id": "shop", "name": "Shop", "allowed_origins": ["*"]})),
    )
    .await;
    assert_eq!(
        (status, &json["field"]),
        (StatusCode::CONFLICT, &json!("id"))
    );
}

/// `GET /v1/sites/{id}/widget-config` with an `Origin`, if any: status, headers, body.
async fn widget_config(
    server: &TestServer,
    site: &str,
    origin: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().uri(format!("/v1/sites/{site}/widget-config"));
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let response = server::app(server.state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_widget_configuration_is_public_cacheable_and_only_for_allowed_pages() {
    let server = TestServer::start().await;
    let (status, headers, config) = widget_config(&server, "acme", Some(ORIGIN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=30");
    assert_eq!(config["appearance"]["accentColor"], "#2f6fed");
    assert!(config.get("identity_secret").is_none() && !config.to_string().contains("secret"));
    // Another site's page and an unknown site get the same answer.
    let (other, other_headers, refused) =
        widget_config(&server, "acme", Some("https://evil.example")).await;
    // The refusal is readable by the page, so its loader knows the chat is not available.
    assert_eq!(other_headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let (unknown, _, unknown_body) = widget_config(&server, "nope", Some(ORIGIN)).await;
    assert_eq!(
        (other, unknown),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(refused, unknown_body);
    // Without `Origin` (same-origin, or no browser) the public configuration is served.
    let (status, headers, _) = widget_config(&server, "acme", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn the_snippet_names_the_site_both_deployments_and_the_moderator_and_inlines_the_loader() {
    let server = TestServer::start_with(|c| {
        c.public_urls = vec![
            "https://chat-a.example".into(),
            "https://chat-b.example".into(),
        ];
        c.moderator_url = Some("https://moderator.example".into());
    })
    .await;
    let admin = server.login("alice@example.com").await.token;
    let (status, json) = call(
        &server,
        "GET",
        "/v1/admin/sites/acme/snippet",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let snippet = json["snippet"].as_str().unwrap();
    for part in [
        "\"siteId\": \"acme\"",
        "\"https://chat-a.example\"",
        "\"https://chat-b.example\"",
        "\"moderator\": \"https://moderator.example\"",
        "before </head>",
        server::assets::LOADER.trim(),
    ] {
        assert!(
            snippet.contains(part),
            "the snippet lacks {part:?}:\n{snippet}"
        );
    }
}

/// The JSON body of a login with `password`: status and body.
async fn login(server: &TestServer, email: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"email": email, "password": password});
    call(server, "POST", "/v1/operators/login", None, Some(body)).await
}

#[tokio::test]
async fn the_team_is_managed_and_the_last_admin_stays() {
    let server = TestServer::start().await;
    let admin = server.login("alice@example.com").await;
    let alice_id = admin.operator.id.to_string();
    let admin = Some(admin.token.as_str());
    let new = |email: &str, password: Option<&str>| json!({"email": email, "name": "Carol", "role": "agent", "password": password});
    // With a password: logs in at once.
    let (status, created) = call(
        &server,
        "POST",
        "/v1/admin/operators",
        admin,
        Some(new("carol@example.com", Some("a long password"))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created.get("invitation_url").is_none());
    assert_eq!(
        login(&server, "carol@example.com", "a long password")
            .await
            .0,
        StatusCode::OK
    );
    // Bad input names its field; a taken address (in any case) is a conflict on `email`.
    for (body, field) in [
        (new("Carol@Example.com", Some("a long password")), "email"),
        (new("not an address", Some("a long password")), "email"),
        (new("dave@example.com", Some("short")), "password"),
        (
            json!({"email": "dave@example.com", "name": "", "role": "agent"}),
            "name",
        ),
        (
            json!({"email": "dave@example.com", "name": "Dave", "role": "agent", "sites": {"only": ["nope"]}}),
            "sites",
        ),
    ] {
        let (status, json) = call(&server, "POST", "/v1/admin/operators", admin, Some(body)).await;
        assert!(status.is_client_error(), "{json}");
        assert_eq!(json["field"], field, "{json}");
    }
    let (status, _) = call(
        &server,
        "POST",
        "/v1/admin/operators",
        admin,
        Some(json!({"email": "x@example.com", "name": "X", "role": "owner"})),
    )
    .await;
    assert!(status.is_client_error(), "an unknown role");

    // Invited: the link works once, then is spent.
    let (status, created) = call(
        &server,
        "POST",
        "/v1/admin/operators",
        admin,
        Some(new("dave@example.com", None)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let url = created["invitation_url"].as_str().unwrap();
    let token = url.split_once("#invite=").unwrap().1;
    let accept = |password: &str| json!({"token": token, "password": password});
    let (status, json) = call(
        &server,
        "POST",
        "/v1/operators/invitation",
        None,
        Some(accept("short")),
    )
    .await;
    assert_eq!(
        (status, &json["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("password"))
    );
    let (status, json) = call(
        &server,
        "POST",
        "/v1/operators/invitation",
        None,
        Some(accept("dave's own password")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["operator"]["email"], "dave@example.com");
    let (status, _) = call(
        &server,
        "POST",
        "/v1/operators/invitation",
        None,
        Some(accept("someone else's")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "an invitation works once");
    assert_eq!(
        login(&server, "dave@example.com", "dave's own password")
            .await
            .0,
        StatusCode::OK
    );
    let forged = json!({"token": format!("{token}x"), "password": "a long password"});
    let (status, _) = call(
        &server,
        "POST",
        "/v1/operators/invitation",
        None,
        Some(forged),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Disabled: the right password no longer logs in; enabled again, it does.
    let carol = created_id(&server, admin, "carol@example.com").await;
    let path = format!("/v1/admin/operators/{carol}");
    let (status, json) = call(
        &server,
        "PATCH",
        &path,
        admin,
        Some(json!({"state": "disabled"})),
    )
    .await;
    assert_eq!(
        (status, &json["state"]),
        (StatusCode::OK, &json!("disabled")),
        "{json}"
    );
    let (status, json) = login(&server, "carol@example.com", "a long password").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    call(
        &server,
        "PATCH",
        &path,
        admin,
        Some(json!({"state": "active", "role": "admin", "name": "Caroline"})),
    )
    .await;
    let (status, me) = login(&server, "carol@example.com", "a long password").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&me["operator"]["role"], &me["operator"]["name"]),
        (&json!("admin"), &json!("Caroline"))
    );
    // A password reset by an admin.
    call(
        &server,
        "PATCH",
        &path,
        admin,
        Some(json!({"password": "a brand new one"})),
    )
    .await;
    assert_eq!(
        login(&server, "carol@example.com", "a long password")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&server, "carol@example.com", "a brand new one")
            .await
            .0,
        StatusCode::OK
    );

    // The last admin: Carol and Alice are admins; with Carol removed, Alice cannot step down.
    let (status, _) = call(&server, "DELETE", &path, admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        login(&server, "carol@example.com", "a brand new one")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let alice = format!("/v1/admin/operators/{alice_id}");
    for body in [json!({"role": "agent"}), json!({"state": "disabled"})] {
        let (status, json) = call(&server, "PATCH", &alice, admin, Some(body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{json}");
        assert!(
            json["message"].as_str().unwrap().contains("no admin"),
            "{json}"
        );
    }
    let (status, _) = call(&server, "DELETE", &alice, admin, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Carol's address is free again.
    let (status, json) = call(
        &server,
        "POST",
        "/v1/admin/operators",
        admin,
        Some(new("carol@example.com", Some("a long password"))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let (_, team) = call(&server, "GET", "/v1/admin/operators", admin, None).await;
    let emails: Vec<&str> = team
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com"
        ]
    );
}

async fn created_id(server: &TestServer, admin: Option<&str>, email: &str) -> String {
    let (_, team) = call(server, "GET", "/v1/admin/operators", admin, None).await;
    team.as_array()
        .unwrap()
        .iter()
        .find(|o| o["email"] == email)
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn a_disabled_operators_open_console_is_signed_out() {
    let server = TestServer::start().await;
    let admin = server.login("alice@example.com").await.token;
    let (mut bob, _) = server.operator("bob@example.com").await;
    let bob_id = created_id(&server, Some(&admin), "bob@example.com").await;
    let (status, _) = call(
        &server,
        "PATCH",
        &format!("/v1/admin/operators/{bob_id}"),
        Some(&admin),
        Some(json!({"state": "disabled"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let refusal = bob
        .recv_until(|f| match f {
            ServerFrame::Error { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(refusal, "Signed out: an admin disabled your account.");
    assert_eq!(bob.closed().await, Some(1008));
}

#[tokio::test]
async fn an_agent_serving_some_sites_sees_and_touches_only_theirs() {
    let server = TestServer::start().await;
    let admin = server.login("alice@example.com").await.token;
    let admin = Some(admin.as_str());
    call(
        &server,
        "POST",
        "/v1/admin/sites",
        admin,
        Some(json!({"id": "other", "name": "Other", "allowed_origins": [ORIGIN]})),
    )
    .await;
    let bob_id = created_id(&server, admin, "bob@example.com").await;
    let (status, json) = call(
        &server,
        "PATCH",
        &format!("/v1/admin/operators/{bob_id}"),
        admin,
        Some(json!({"sites": {"only": ["other"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    // A chat on `acme`, which Bob does not serve, and one on `other`, which he does.
    let (mut acme_visitor, _) = server.visitor(None).await;
    let acme_chat = support::new_conversation();
    acme_visitor.post(acme_chat, "on acme").await;
    let mut other_visitor = server.connect().await;
    other_visitor
        .send(&support::visitor_hello("other", None))
        .await;
    other_visitor.welcome().await;
    let (mut bob, session) = server.operator("bob@example.com").await;
    let Session::Operator {
        inbox, operator, ..
    } = session
    else {
        panic!("an operator's welcome");
    };
    assert!(inbox.is_empty(), "Bob sees acme's chat: {inbox:?}");
    assert_eq!(
        operator.sites,
        protocol::admin::SiteScope::Only(vec![protocol::SiteId("other".into())])
    );
    let other_chat = support::new_conversation();
    acme_visitor.post(acme_chat, "still on acme").await;
    other_visitor.post(other_chat, "on other").await;
    // Bob hears of other's chat (its message and its summary) and of nothing on acme.
    let (mut message, mut summary) = (None, None);
    while message.is_none() || summary.is_none() {
        match bob.recv().await {
            ServerFrame::Message { message: m } => {
                assert_eq!(m.conversation_id, other_chat, "{m:?}");
                message = Some(m.body);
            }
            ServerFrame::Conversation { conversation } => {
                assert_eq!(conversation.id, other_chat, "{conversation:?}");
                summary = Some(conversation.site_id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(message.as_deref(), Some("on other"));
    bob.send(&ClientFrame::Accept {
        conversation_id: acme_chat,
    })
    .await;
    let refusal = bob
        .recv_until(|f| match f {
            ServerFrame::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(refusal, protocol::ErrorCode::Forbidden);
    let bob_token = server.login("bob@example.com").await.token;
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/conversations/{acme_chat}/messages"),
        Some(&bob_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, inbox) = call(&server, "GET", "/v1/conversations", Some(&bob_token), None).await;
    let sites: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["site_id"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["other"]);
}

#[tokio::test]
async fn a_removed_site_keeps_its_transcripts_and_its_widget_is_refused() {
    let server = TestServer::start().await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!("a visitor's welcome");
    };
    let chat = support::new_conversation();
    visitor.post(chat, "before the removal").await;
    let admin = server.login("alice@example.com").await.token;
    let (status, _) = call(
        &server,
        "DELETE",
        "/v1/admin/sites/acme",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut again = server.connect().await;
    again
        .send(&ClientFrame::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            auth: protocol::Auth::Visitor {
                site_id: protocol::SiteId("acme".into()),
                token: Some(token),
                user: None,
            },
            page_url: None,
            context: None,
        })
        .await;
    match again.recv().await {
        ServerFrame::Error { message, .. } => {
            assert_eq!(message, "this chat is not available on this page")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (_, messages) = call(
        &server,
        "GET",
        &format!("/v1/conversations/{chat}/messages"),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        messages.to_string().contains("before the removal"),
        "{messages}"
    );
}

#[tokio::test]
async fn the_admin_api_answers_both_deployments_consoles_and_no_other_page() {
    let server = TestServer::start_with(|c| {
        c.public_urls = vec![
            "http://127.0.0.1:8080".into(),
            "http://127.0.0.1:8081/".into(),
        ];
    })
    .await;
    let preflight = |origin: &'static str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/admin/sites/acme/appearance")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let other_console = server::app(server.state.clone())
        .oneshot(preflight("http://127.0.0.1:8081"))
        .await
        .unwrap();
    assert_eq!(
        other_console.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8081"
    );
    let stranger = server::app(server.state.clone())
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(stranger
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
}

#[tokio::test]
async fn admin_bodies_are_bounded_and_invitations_are_limited_like_logins() {
    let server = TestServer::start().await;
    let admin = server.login("alice@example.com").await.token;
    let huge = json!({"greeting": "x".repeat(64 * 1024)});
    let (status, json) = call(
        &server,
        "PUT",
        "/v1/admin/sites/acme/appearance",
        Some(&admin),
        Some(huge),
    )
    .await;
    assert_eq!(
        (status, &json["error"]),
        (StatusCode::PAYLOAD_TOO_LARGE, &json!("too_large")),
        "{json}"
    );
    let (_, site) = call(&server, "GET", "/v1/admin/sites/acme", Some(&admin), None).await;
    assert_eq!(
        site["appearance"]["greeting"],
        protocol::admin::Appearance::default().greeting
    );
    // Guessing at an invitation is limited like guessing a password: per account.
    let (_, created) = call(
        &server,
        "POST",
        "/v1/admin/operators",
        Some(&admin),
        Some(json!({"email": "eve@example.com", "name": "Eve", "role": "agent"})),
    )
    .await;
    let url = created["invitation_url"].as_str().unwrap();
    let token = url.split_once("#invite=").unwrap().1;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let body = json!({"token": token, "password": "short"});
        statuses.push(
            call(
                &server,
                "POST",
                "/v1/operators/invitation",
                None,
                Some(body),
            )
            .await
            .0,
        );
    }
    assert!(
        statuses[..10]
            .iter()
            .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY),
        "{statuses:?}"
    );
    assert_eq!(statuses[11], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}
