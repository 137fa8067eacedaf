//! Visitor context: the widget's hello records the page (without its query) and the browser's
//! context; operators who serve the site read it, anyone else gets 404 or 401; a context that
//! breaks a bound is left out while the chat goes on.

mod support;

use axum::http::StatusCode;
use protocol::visitor::{VisitorContext, VisitorContextView};
use protocol::{Auth, ClientFrame, ServerFrame, Session, SiteId};
use support::{TestServer, ORIGIN};

/// A visitor's hello with a page and a context; returns their id.
async fn hello(
    server: &TestServer,
    token: Option<String>,
    page: &str,
    context: VisitorContext,
) -> (protocol::VisitorId, String) {
    let mut client = server.connect().await;
    client
        .send(&ClientFrame::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("acme".into()),
                token,
                user: None,
            },
            page_url: Some(page.into()),
            context: Some(Box::new(context)),
        })
        .await;
    match client.recv().await {
        ServerFrame::Welcome {
            session: Session::Visitor {
                visitor_id, token, ..
            },
            ..
        } => (visitor_id, token),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn operators_of_the_site_see_where_the_visitor_is_and_nobody_else_does() {
    let server = TestServer::start().await;
    let chrome = VisitorContext {
        referrer: Some("https://search.example/?q=coffee+grinder".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36".into()),
        language: Some("de-CH".into()),
        time_zone: Some("Europe/Zurich".into()),
        ..Default::default()
    };
    let (visitor, token) = hello(&server, None, &format!("{ORIGIN}/?utm=1"), chrome.clone()).await;
    hello(
        &server,
        Some(token.clone()),
        &format!("{ORIGIN}/?utm=2"),
        chrome.clone(),
    )
    .await;
    hello(
        &server,
        Some(token),
        &format!("{ORIGIN}/pricing#plans"),
        chrome,
    )
    .await;

    let admin = server.login("alice@example.com").await.token;
    let path = format!("/v1/visitors/{visitor}/context");
    let (status, json) = server.http("GET", &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let view: VisitorContextView = serde_json::from_value(json.clone()).unwrap();
    let pages: Vec<_> = view.pages.iter().map(|p| p.url.clone()).collect();
    assert_eq!(
        pages,
        [format!("{ORIGIN}/pricing"), format!("{ORIGIN}/")],
        "a reload is one stay"
    );
    let context = view.context.unwrap();
    assert_eq!(context.referrer.as_deref(), Some("https://search.example/"));
    assert_eq!(context.browser().as_deref(), Some("Chrome 120 on Linux"));
    assert!(
        !json.to_string().contains("utm"),
        "no query string reaches operators"
    );

    // A stranger, an agent of another site, a visitor id that is not one: nothing.
    assert_eq!(
        server.http("GET", &path, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    server
        .restrict_operator("bob@example.com", &["other"])
        .await;
    let agent = server.login("bob@example.com").await.token;
    assert_eq!(
        server.http("GET", &path, Some(&agent), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = server
        .http("GET", "/v1/visitors/nobody/context", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An oversized user agent is left out; the hello still succeeds and the page is kept.
    let huge = VisitorContext {
        user_agent: Some("x".repeat(protocol::visitor::MAX_USER_AGENT_BYTES + 1)),
        ..Default::default()
    };
    let (other, _) = hello(&server, None, &format!("{ORIGIN}/faq"), huge).await;
    let path = format!("/v1/visitors/{other}/context");
    let (_, json) = server.http("GET", &path, Some(&admin), None).await;
    let view: VisitorContextView = serde_json::from_value(json).unwrap();
    assert_eq!(view.context, None);
    assert_eq!(view.pages.len(), 1);
}
