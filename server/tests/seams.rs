//! The deployment's seams, tested where a user would notice them: every expiry reads the one
//! injectable clock, stored values that do not parse are refused (fail closed) rather than read as
//! a permissive default, and a logged-out session stays out in whatever order its events arrive.

mod support;

use axum::http::StatusCode;
use protocol::{Auth, ClientFrame, ErrorCode, ServerFrame, Session, SiteId, PROTOCOL_VERSION};
use support::TestServer;

const DAY_MS: i64 = 86_400_000;

fn visitor_hello(token: Option<String>) -> ClientFrame {
    ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        auth: Auth::Visitor {
            site_id: SiteId("acme".into()),
            token,
            user: None,
        },
        page_url: None,
        context: None,
    }
}

/// Restarts `server` on its own data directory with its wall clock shifted by `skew_ms`.
async fn restart_skewed(server: TestServer, skew_ms: i64) -> TestServer {
    let dir = server.shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    TestServer::start_on(listener, dir, false, |c| c.clock_skew_ms = skew_ms).await
}

#[tokio::test]
async fn an_operator_session_expires_by_the_deployments_clock() {
    let server = TestServer::start().await;
    let login = server.login("alice@example.com").await;
    let (status, _) = server
        .http("GET", "/v1/operators/me", Some(&login.token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Sessions last seven days. Eight days later by this deployment's clock the session is over,
    // over HTTP and in a WebSocket `hello` alike, although the system clock has hardly moved.
    let server = restart_skewed(server, 8 * DAY_MS).await;
    let (status, body) = server
        .http("GET", "/v1/operators/me", Some(&login.token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let mut client = server.connect().await;
    client.send(&support::operator_hello(login.token)).await;
    let ServerFrame::Error { code, .. } = client.recv().await else {
        panic!("an expired session must be refused");
    };
    assert_eq!(code, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn a_visitor_token_expires_by_the_deployments_clock() {
    let server = TestServer::start_with(|c| c.visitor_token_ttl_days = 2).await;
    let (_, session) = server.visitor(None).await;
    let Session::Visitor { token, .. } = session else {
        panic!("a visitor session");
    };
    let server = restart_skewed(server, 3 * DAY_MS).await;
    let mut client = server.connect().await;
    client.send(&visitor_hello(Some(token.clone()))).await;
    let ServerFrame::Error { code, message, .. } = client.recv().await else {
        panic!("an expired visitor token must be refused");
    };
    assert_eq!(code, ErrorCode::Unauthorized);
    assert!(message.contains("expired"), "{message}");
    let (status, _) = server
        .http("GET", "/v1/operators/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Overwrites one stored value behind the deployment's back, as a damaged file would.
fn damage(server: &TestServer, sql: &str) {
    let db = server.data_dir.path().join(server::store::DATABASE_FILE);
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn unreadable_allowed_origins_refuse_visitors_instead_of_allowing_every_origin() {
    let server = TestServer::start().await;
    damage(
        &server,
        "UPDATE sites SET allowed_origins = 'not json' WHERE id = 'acme'",
    );
    let mut client = server.connect().await;
    client.send(&visitor_hello(None)).await;
    let ServerFrame::Error { code, message, .. } = client.recv().await else {
        panic!("a site whose origins cannot be read must not admit anyone");
    };
    assert_eq!(code, ErrorCode::Internal);
    assert!(
        !message.contains("not json"),
        "internals stay internal: {message}"
    );
    assert_eq!(client.closed().await, Some(1008));
    // The store says exactly what is wrong.
    let read = server
        .state
        .store
        .read(|r| r.site(&SiteId("acme".into())))
        .await;
    assert!(
        matches!(&read, Err(server::store::StoreError::Corrupt { what, .. }) if what == "site allowed_origins"),
        "{read:?}"
    );
}

#[tokio::test]
async fn an_unknown_role_is_refused_not_read_as_an_agent() {
    let server = TestServer::start().await;
    let login = server.login("bob@example.com").await;
    damage(&server, "PRAGMA ignore_check_constraints = ON; UPDATE operators SET role = 'owner' WHERE email = 'bob@example.com'");
    let (status, body) = server
        .http("GET", "/v1/operators/me", Some(&login.token), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "internal");
}

#[tokio::test]
async fn a_logged_out_session_is_not_revived_by_its_creation_arriving_later() {
    let server = TestServer::start().await;
    let login = server.login("alice@example.com").await;
    let (status, _) = server
        .http("POST", "/v1/operators/logout", Some(&login.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The creation event is applied again, as if it arrived from the peer after the deletion.
    let hash = server::auth::session_token_hash(&login.token);
    let creation = server
        .state
        .store
        .read(move |r| {
            let events = r.local_events_after("primary", 0, 10_000)?;
            Ok(events.into_iter().find(|e| {
                matches!(&e.change, protocol::replication::Change::SessionCreated { token_hash, .. } if *token_hash == hash)
            }))
        })
        .await
        .unwrap()
        .expect("the login recorded its session");
    let replayed = protocol::replication::LoggedEvent {
        id: uuid::Uuid::now_v7(),
        origin: "redundant".into(),
        ..creation
    };
    server
        .state
        .store
        .write(move |w| w.apply_remote(&replayed))
        .await
        .unwrap();
    let (status, _) = server
        .http("GET", "/v1/operators/me", Some(&login.token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logouts_logged_before_the_tombstone_table_existed_become_tombstones() {
    let server = TestServer::start().await;
    let login = server.login("alice@example.com").await;
    server
        .http("POST", "/v1/operators/logout", Some(&login.token), None)
        .await;
    let dir = server.shutdown().await;
    // Back to schema version 3, which found deletions by scanning the log (and undoing the
    // later migrations' columns, so that they can run again).
    let db = dir.path().join(server::store::DATABASE_FILE);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DROP TABLE session_tombstones;
             DROP TABLE quarantine;
             DROP TABLE site_settings;
             DROP TABLE operator_settings;
             DROP TABLE site_tombstones;
             DROP TABLE operator_tombstones;
             DROP TABLE visitor_details;
             DROP TABLE conversation_reads;
             DROP TABLE conversation_ratings;
             DROP TABLE mail_outbox;
             DROP TABLE canned_replies;
             DROP INDEX messages_attachment;
             DROP TABLE page_views;
             DROP TABLE visitor_contexts;
             DROP TRIGGER messages_fts_insert;
             DROP TRIGGER messages_fts_delete;
             DROP TRIGGER messages_fts_update;
             DROP TABLE messages_fts;
             DROP TABLE messages_fts_pending;
             DROP INDEX conversations_history;
             DROP INDEX conversations_queue;
             DROP INDEX conversations_by_operator;
             DROP INDEX events_by_origin_seq;
             ALTER TABLE messages DROP COLUMN attachment;
             ALTER TABLE messages DROP COLUMN attachment_hash;
             ALTER TABLE messages DROP COLUMN private;
             ALTER TABLE conversations DROP COLUMN kind;
             ALTER TABLE operators DROP COLUMN sessions_from;
             ALTER TABLE operator_sessions DROP COLUMN hlc;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer::start_on(listener, dir, false, |_| {}).await;
    let hash = server::auth::session_token_hash(&login.token);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM session_tombstones WHERE token_hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1);
    server.shutdown().await;
}
