//! The OpenAPI document (`/v1/openapi.json`) against the routes actually served: OpenAPI 3.1,
//! public, every route of the server's routers in it (read from the source, so a new route
//! without its annotation fails here), and every operation it lists routed (none answers the
//! unknown-endpoint 404). schemathesis checks the answers against it in `tests/tests/openapi.rs`.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::collections::BTreeSet;
use support::TestServer;
use tower::ServiceExt;

/// Every path given to `.route(` in the server's sources, with the constants spelled out.
fn routed_paths() -> BTreeSet<String> {
    let constants = [
        ("protocol::WS_PATH", protocol::WS_PATH),
        (
            "protocol::replication::REPLICATION_PATH",
            protocol::replication::REPLICATION_PATH,
        ),
        (
            "protocol::replication::RETURNED_PATH",
            protocol::replication::RETURNED_PATH,
        ),
        ("ROLE_PATH", protocol::moderation::ROLE_PATH),
        ("PATH", server::openapi::PATH),
    ];
    let mut paths = BTreeSet::new();
    let mut pending = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (_, rest) in text
                .match_indices(".route(")
                .map(|(i, _)| text.split_at(i + 7))
            {
                let first = rest.trim_start();
                let argument = first.split(',').next().unwrap().trim();
                let path = match argument.strip_prefix('"') {
                    Some(quoted) => quoted.trim_end_matches('"').to_owned(),
                    None => constants
                        .iter()
                        .find(|(name, _)| *name == argument)
                        .unwrap_or_else(|| panic!("an unknown route constant {argument}"))
                        .1
                        .to_owned(),
                };
                paths.insert(path);
            }
        }
    }
    paths
}

#[tokio::test]
async fn the_document_lists_every_route_and_only_routed_ones() {
    let server = TestServer::start().await;
    let (status, document) = server.http("GET", server::openapi::PATH, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // Not request and answer: the WebSocket, the replication stream, the catch-all that answers
    // unknown endpoints, and the document itself.
    let not_http: BTreeSet<String> = [
        protocol::WS_PATH,
        protocol::replication::REPLICATION_PATH,
        "/v1/{*rest}",
        server::openapi::PATH,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let routed: BTreeSet<String> = routed_paths().difference(&not_http).cloned().collect();
    assert_eq!(
        routed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes without an OpenAPI annotation"
    );
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented paths nothing routes"
    );
    // Each documented operation reaches a handler (whatever it answers without credentials).
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let uri = path
                .replace("{id}", "00000000-0000-7000-8000-000000000000")
                .replace("{hash}", &"0".repeat(64));
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let response = server::app(server.state.clone())
                .oneshot(request)
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            assert!(
                !String::from_utf8_lossy(&body).contains("no such endpoint")
                    && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status}"
            );
        }
    }
    server.shutdown().await;
}
