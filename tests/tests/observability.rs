//! Issue 18's metrics and logs, with real processes: `/metrics` on a deployment (behind the
//! operations secret) and on the moderator are scraped, and the key series change when visitors
//! chat and when the primary is killed; a deployment started with `--log-format json` writes one
//! JSON object per line, each naming the deployment, with the HTTP request's id on the lines a
//! request causes.

use std::io::{Read, Write};
use std::time::Duration;
use tests::deployment::SITE_ID;
use tests::metrics::{scrape, value};
use tests::moderator::ModeratorProcess;
use tests::pair::{prepare_pair, REPLICATION_SECRET};
use tests::visitor::Visitor;

/// A plain HTTP/1.1 GET of `/health`, with `request_id` set if given; returns the answer's head.
fn health_with_request_id(port: u16, request_id: Option<&str>) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    let header = request_id
        .map(|id| format!("x-request-id: {id}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_chats_and_a_failover_and_json_logs_name_the_deployment() {
    let (mut primary, mut redundant) = prepare_pair(0);
    let log = tempfile::NamedTempFile::new().unwrap();
    primary.stderr_file = Some(log.path().to_owned());
    primary.env.push(("LIVECHAT_LOG_FORMAT", "json".into()));
    // The HTTP layer's own lines (at debug) are those that carry a request's id.
    primary
        .env
        .push(("RUST_LOG", "info,tower_http=debug".into()));
    primary.start();
    redundant.start();
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;

    // The deployment's series are for holders of the operations secret only.
    let (status, _) = scrape(&primary.url(), None).await;
    assert_eq!(status, 401);
    let (status, _) = scrape(&primary.url(), Some("not the secret")).await;
    assert_eq!(status, 401);
    let (status, before) = scrape(&primary.url(), Some(REPLICATION_SECRET)).await;
    assert_eq!(status, 200, "{before}");
    let acknowledged_before = value(&before, "livechat_messages_acknowledged_total", &[]);

    // Visitors chat: acknowledgements, their latency, group commits and connections show.
    let deployments = [primary.url(), redundant.url()];
    let mut visitors: Vec<Visitor> = (0..3)
        .map(|_| Visitor::start(SITE_ID, deployments.clone(), Some(moderator.url.clone())))
        .collect();
    for visitor in &mut visitors {
        visitor.write_paced(5, Duration::from_millis(10)).await;
        assert!(visitor.drained(Duration::from_secs(30)).await);
    }
    let (_, after) = scrape(&primary.url(), Some(REPLICATION_SECRET)).await;
    let acknowledged = value(&after, "livechat_messages_acknowledged_total", &[]);
    assert!(
        acknowledged - acknowledged_before >= 15.0,
        "{acknowledged_before} then {acknowledged}\n{after}"
    );
    assert!(
        value(&after, "livechat_ack_seconds_count", &[]) >= 15.0,
        "{after}"
    );
    assert!(
        value(&after, "livechat_group_commit_size_count", &[]) > 0.0,
        "{after}"
    );
    assert_eq!(
        value(&after, "livechat_connections", &["role=\"visitor\""]),
        3.0,
        "{after}"
    );
    assert_eq!(
        value(&after, "livechat_replication_peer_reachable", &[]),
        1.0,
        "{after}"
    );
    assert!(
        after.contains("livechat_replication_backlog_events{"),
        "{after}"
    );
    assert!(after.contains("deployment=\"primary\""), "{after}");
    assert!(
        after.contains("# HELP livechat_messages_acknowledged_total"),
        "{after}"
    );
    let (_, redundant_scrape) = scrape(&redundant.url(), Some(REPLICATION_SECRET)).await;
    assert!(
        redundant_scrape.contains("deployment=\"redundant\""),
        "{redundant_scrape}"
    );

    // The moderator's series are open, like its status page.
    let (status, watched) = scrape(&moderator.url, None).await;
    assert_eq!(status, 200, "{watched}");
    assert_eq!(
        value(
            &watched,
            "moderator_deployment_up",
            &["deployment=\"primary\""]
        ),
        1.0,
        "{watched}"
    );
    assert_eq!(
        value(
            &watched,
            "moderator_deployment_active",
            &["deployment=\"primary\""]
        ),
        1.0,
        "{watched}"
    );
    assert!(
        value(&watched, "moderator_probe_seconds_count", &[]) > 0.0,
        "{watched}"
    );
    let failovers_before = value(&watched, "moderator_failovers_total", &[]);

    // A request's id is answered back, and is on the log lines the request caused.
    let head = health_with_request_id(primary.port, Some("observability-test-request"));
    assert!(
        head.contains("x-request-id: observability-test-request"),
        "{head}"
    );
    // A request without one gets a fresh UUID.
    let head = health_with_request_id(primary.port, None);
    let given = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("no id given: {head}"));
    assert!(uuid::Uuid::parse_str(given.trim()).is_ok(), "{head}");

    // The primary dies: the moderator counts a failover and names the redundant deployment.
    primary.kill9();
    moderator
        .wait_for_active("redundant", Duration::from_secs(20))
        .await;
    let (_, watched) = scrape(&moderator.url, None).await;
    assert_eq!(
        value(&watched, "moderator_failovers_total", &[]),
        failovers_before + 1.0,
        "{watched}"
    );
    assert_eq!(
        value(
            &watched,
            "moderator_deployment_active",
            &["deployment=\"redundant\""]
        ),
        1.0,
        "{watched}"
    );

    // Every line the primary wrote is one JSON object naming it.
    let mut text = String::new();
    std::fs::File::open(log.path())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 3, "{text}");
    for line in &lines {
        assert_eq!(line["deployment"], "primary", "{line}");
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["request_id"] == "observability-test-request" && l["path"] == "/health"),
        "no line carries the request's id:\n{text}"
    );
}
