//! Issue 18's rolling upgrade, carried out as `docs/operations.md` describes it, with real
//! processes under native visitors that chat all along and a widget in headless Chromium:
//! pin the redundant deployment, let the primary's clients drain, stop it with SIGTERM, start it
//! again (the "new release"), release; then the same for the redundant deployment, this time
//! stopped without waiting for its clients, who are told `draining` and move by themselves.
//! Afterwards, the active primary is stopped with no pin at all. Every message written is on
//! both deployments exactly once, every native visitor's outbox is empty, and the widget shows
//! each of its messages once, online, with no error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::browser::{
    open_widget, widget_has, widget_online, widget_shows, widget_state, widget_write, ChromeDriver,
    WAIT,
};
use tests::deployment::SITE_ID;
use tests::metrics::{scrape, value};
use tests::moderator::{ModeratorProcess, ADMIN_SECRET};
use tests::page::serve_page;
use tests::pair::{start_pair, stored_once_on_both, Member, REPLICATION_SECRET};
use tests::visitor::Visitor;

/// Native visitors in the chat.
const VISITORS: usize = 4;
/// How often each of them writes.
const PACE: Duration = Duration::from_millis(100);

/// A visitor that writes one message every [`PACE`] until `stop` is set, then waits until
/// everything it wrote is on both deployments.
async fn chat_until(mut visitor: Visitor, stop: Arc<AtomicBool>) -> Visitor {
    while !stop.load(Ordering::Relaxed) {
        let n = visitor.written.len();
        visitor.write(&format!("native message {n}"));
        visitor.pump(PACE).await;
    }
    assert!(
        visitor.drained(Duration::from_secs(60)).await,
        "a visitor's outbox did not drain: {} left",
        visitor.outbox_len()
    );
    // Everyone ends on the primary, the moderator's choice once the pair is whole again.
    assert!(
        visitor
            .until(Duration::from_secs(30), |v| {
                v.welcomed_by.last() == v.deployments.first()
            })
            .await,
        "a visitor did not come back to the primary: {:?}",
        visitor.welcomed_by
    );
    visitor
}

/// How many WebSocket clients past `hello` the deployment serves, from its `/metrics`.
async fn connections(member: &Member) -> f64 {
    let (_, scraped) = scrape(&member.url(), Some(REPLICATION_SECRET)).await;
    value(&scraped, "livechat_connections", &[])
}

/// Step 3 of the upgrade: waits until no client is left on `member`.
async fn drained(member: &Member) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while connections(member).await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "clients stayed on {}",
            member.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops `member` with SIGTERM, as an upgrade does, and starts it again on the same data
/// directory. It must exit cleanly.
fn upgrade(member: &mut Member) {
    assert!(
        tokio::task::block_in_place(|| member.terminate()),
        "{} did not exit cleanly on SIGTERM",
        member.name
    );
    member.start();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_under_chatting_clients_loses_nothing_and_shows_no_error() {
    let (mut primary, mut redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = [primary.url(), redundant.url()];
    // An operator is online, so the widget offers the chat rather than the offline form.
    let _operator = Visitor::standby(deployments.clone(), Some(moderator.url.clone())).await;
    let page = xtask::render_demo_page(&tests::root(), &deployments, Some(&moderator.url), SITE_ID)
        .unwrap();
    let page_url = serve_page(page).await;
    let mut chrome = ChromeDriver::start().await;
    let widget = chrome.session().await;
    open_widget(&widget, &page_url).await;
    widget_online(&widget).await;
    let mut written = vec!["before the upgrade"];
    widget_write(&widget, written[0]).await;
    widget_shows(&widget, &written).await;

    let stop = Arc::new(AtomicBool::new(false));
    let chats: Vec<_> = (0..VISITORS)
        .map(|_| {
            let visitor = Visitor::start(SITE_ID, deployments.clone(), Some(moderator.url.clone()));
            tokio::spawn(chat_until(visitor, stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1–3. The pair is whole; the redundant deployment is pinned and the primary's clients
    // drain to it.
    assert!(moderator.cli(&["failover", "--to", "redundant"], Some(ADMIN_SECRET)));
    drained(&primary).await;
    written.push("while the primary is upgraded");
    widget_write(&widget, "while the primary is upgraded").await;
    // 4. The primary stops and comes back as the new release.
    upgrade(&mut primary);
    // 5. Released: the moderator fails back once the primary has caught up.
    assert!(moderator.cli(&["release"], Some(ADMIN_SECRET)));
    moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    written.push("after the primary's upgrade");
    widget_write(&widget, "after the primary's upgrade").await;

    // 6. The redundant deployment, pinned away from and stopped at once, without waiting for
    // its clients: those still on it are told to move while their sockets are served.
    assert!(moderator.cli(&["failover", "--to", "primary"], Some(ADMIN_SECRET)));
    upgrade(&mut redundant);
    written.push("while the redundant one is upgraded");
    widget_write(&widget, "while the redundant one is upgraded").await;
    assert!(moderator.cli(&["release"], Some(ADMIN_SECRET)));

    // And an impatient restart: the active primary stopped with no pin. Its clients are told
    // to move and go to the redundant deployment; once the primary is back and caught up, the
    // moderator names it (again) and they return.
    tokio::time::sleep(Duration::from_secs(1)).await;
    upgrade(&mut primary);
    written.push("after a restart with no pin");
    widget_write(&widget, "after a restart with no pin").await;
    moderator
        .wait_for_active("primary", Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    stop.store(true, Ordering::Relaxed);
    let mut ids = Vec::new();
    for chat in chats {
        let visitor = chat.await.unwrap();
        assert!(visitor.refused.is_empty(), "{:?}", visitor.refused);
        assert!(visitor.welcomed_by.len() >= 2, "{:?}", visitor.welcomed_by);
        ids.extend(visitor.written.iter().map(|id| id.to_string()));
    }
    assert!(ids.len() >= VISITORS * 10, "the visitors chatted all along");

    // The widget shows each of its messages once, in order, online, with no error.
    let shown = widget_shows(&widget, &written).await;
    ids.extend(shown.iter().map(|line| line.id.clone()));
    let deadline = Instant::now() + WAIT;
    while widget_state(&widget).await != "online" {
        assert!(
            Instant::now() < deadline,
            "the widget did not settle online"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!widget_has(&widget, "chat-notice").await, "no error shown");
    stored_once_on_both(&primary, &redundant, ids).await;
    widget.close().await.unwrap();
}
