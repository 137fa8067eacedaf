//! The moderator in-process, against hostile deployments: one answers garbage, one accepts
//! connections and never answers. Neither crashes or stalls the moderator; both count as failed.
//! The admin API refuses calls without the secret, and `/v1/active` is open to every origin and
//! revalidated by epoch.

use daemon::http::{HttpClient, Method};
use moderator::config::{Config, Endpoint};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ADMIN: &str = "admin secret for moderator tests";

/// A "deployment" that answers every request with a 200 whose body is not a health report.
async fn garbage_deployment() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0 {
                        return;
                    }
                    let body = "<html>certainly not JSON</html>";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// A "deployment" that accepts connections and never says a word (a black hole).
async fn silent_deployment() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

struct Running {
    url: String,
    _data: tempfile::TempDir,
}

async fn start(primary: String, redundant: String) -> Running {
    start_probing(primary, redundant, 100).await
}

/// Like [`start`], with probes that wait `probe_timeout_ms` for an answer.
async fn start_probing(primary: String, redundant: String, probe_timeout_ms: u64) -> Running {
    let data = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: data.path().to_owned(),
        primary: Endpoint {
            id: "primary".into(),
            url: primary,
        },
        redundant: Endpoint {
            id: "redundant".into(),
            url: redundant,
        },
        check_interval_ms: 50,
        probe_timeout_ms,
        admin_secret: Some(ADMIN.into()),
        ..Config::default()
    };
    let (handle, driver) = moderator::service::open(config, HttpClient::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, moderator::api::router(handle))
            .await
            .unwrap()
    });
    tokio::spawn(async move {
        driver
            .run(std::future::pending::<()>())
            .await
            .expect("the driver runs")
    });
    Running { url, _data: data }
}

async fn call(
    url: &str,
    method: Method,
    bearer: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let answer = HttpClient::default()
        .call(
            method,
            url,
            bearer,
            body.map(|b| b.as_bytes().to_vec()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let json = serde_json::from_slice(&answer.body).unwrap_or(serde_json::Value::Null);
    (answer.status, json)
}

#[tokio::test]
async fn garbage_and_silent_deployments_count_as_failed_and_never_stall_the_moderator() {
    let moderator = start(garbage_deployment().await, silent_deployment().await).await;
    let status_url = format!("{}/v1/status", moderator.url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (code, status) = call(&status_url, Method::GET, None, None).await;
        assert_eq!(code, 200);
        let down = status["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["up"] == false)
            .count();
        if down == 2 {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let error = |i: usize| {
        status["deployments"][i]["last_probe"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(error(0).contains("unreadable report"), "{status}");
    assert!(error(1).contains("no answer within"), "{status}");
    // Both down: nothing changes, the primary stays active at the first epoch.
    assert_eq!(status["active"]["active"], "primary");
    assert_eq!(status["active"]["epoch"], 1);
    // The moderator still answers at once, and its page renders.
    let (code, _) = call(&format!("{}/", moderator.url), Method::GET, None, None).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn the_admin_api_needs_the_secret_and_pins_until_released() {
    let moderator = start(silent_deployment().await, silent_deployment().await).await;
    let failover = format!("{}/v1/admin/failover", moderator.url);
    let release = format!("{}/v1/admin/release", moderator.url);
    let to_redundant = Some(r#"{"to":"redundant"}"#);
    let (code, body) = call(&failover, Method::POST, None, to_redundant).await;
    assert_eq!((code, body["error"].as_str()), (401, Some("unauthorized")));
    let (code, _) = call(&failover, Method::POST, Some("wrong"), to_redundant).await;
    assert_eq!(code, 401);
    let (code, _) = call(&release, Method::POST, None, None).await;
    assert_eq!(code, 401);
    let (code, body) = call(&failover, Method::POST, Some(ADMIN), Some("{\"to\":")).await;
    assert_eq!((code, body["error"].as_str()), (400, Some("malformed")));
    let (code, _) = call(
        &failover,
        Method::POST,
        Some(ADMIN),
        Some(r#"{"to":"mars"}"#),
    )
    .await;
    assert_eq!(code, 422);

    let (code, body) = call(&failover, Method::POST, Some(ADMIN), to_redundant).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (
            body["active"].as_str(),
            body["epoch"].as_u64(),
            body["pinned"].as_bool()
        ),
        (Some("redundant"), Some(2), Some(true))
    );
    let (_, active) = call(
        &format!("{}/v1/active", moderator.url),
        Method::GET,
        None,
        None,
    )
    .await;
    assert_eq!(active, body);
    let (code, body) = call(&release, Method::POST, Some(ADMIN), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        (body["epoch"].as_u64(), body["pinned"].as_bool()),
        (Some(3), Some(false))
    );
}

/// A frozen data centre accepts connections and never answers, so each probe of it lasts the
/// whole probe timeout; the admin pinning the other deployment is answered meanwhile, not after.
#[tokio::test]
async fn an_admin_command_is_answered_while_a_probe_waits_on_a_silent_deployment() {
    // The probe timeout is six times the call's own timeout below: a command that waited for the
    // round would fail, however fast the machine.
    let moderator =
        start_probing(silent_deployment().await, silent_deployment().await, 30_000).await;
    // The first round starts at once; let it be under way.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for to in ["redundant", "primary", "redundant"] {
        let (code, body) = call(
            &format!("{}/v1/admin/failover", moderator.url),
            Method::POST,
            Some(ADMIN),
            Some(&format!(r#"{{"to":"{to}"}}"#)),
        )
        .await;
        assert_eq!((code, body["active"].as_str()), (200, Some(to)), "{body}");
    }
}

#[tokio::test]
async fn the_active_deployment_is_open_to_every_origin_and_revalidated_by_epoch() {
    let moderator = start(silent_deployment().await, silent_deployment().await).await;
    let stream = tokio::net::TcpStream::connect(moderator.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<
        _,
        http_body_util::Empty<hyper::body::Bytes>,
    >(hyper_util::rt::TokioIo::new(stream))
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = |etag: Option<&str>| {
        let mut request =
            hyper::Request::get("/v1/active").header("origin", "https://shop.example");
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.body(http_body_util::Empty::new()).unwrap()
    };
    let first = sender.send_request(request(None)).await.unwrap();
    assert_eq!(first.status(), 200);
    let headers = first.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=0, must-revalidate"
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"epoch-1\"");
    let again = sender.send_request(request(Some(&etag))).await.unwrap();
    assert_eq!(again.status(), 304);
}

/// The head of the answer to `GET path`, lower-cased, read over a raw socket.
async fn head_of(url: &str, path: &str) -> String {
    let address = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nOrigin: https://other.example\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_status_page_runs_no_script_cannot_be_framed_and_the_status_is_not_shared_cross_origin()
{
    let moderator = start(silent_deployment().await, silent_deployment().await).await;
    let page = head_of(&moderator.url, "/").await;
    assert!(page.starts_with("http/1.1 200"), "{page}");
    assert!(
        page.contains("content-security-policy: default-src 'none'"),
        "{page}"
    );
    assert!(page.contains("frame-ancestors 'none'"), "{page}");
    assert!(page.contains("x-frame-options: deny"), "{page}");
    assert!(page.contains("x-content-type-options: nosniff"), "{page}");
    assert!(page.contains("referrer-policy: no-referrer"), "{page}");
    let status = head_of(&moderator.url, "/v1/status").await;
    assert!(status.starts_with("http/1.1 200"), "{status}");
    assert!(!status.contains("access-control-allow-origin"), "{status}");
    // The decision stays open to every customer's page.
    let active = head_of(&moderator.url, protocol::moderation::ACTIVE_PATH).await;
    assert!(
        active.contains("access-control-allow-origin: *"),
        "{active}"
    );
}
