//! Real widgets in the long run: headless Chromium visitors on the customer's page, whose
//! snippet names the proxies, typing like people while the faults happen. Their record is what
//! the page shows at the end: every line's id, author, status and text.

use super::workload::Control;
use super::Rng;
use crate::browser::{lines, open_widget, widget_write, ChromeDriver, Line};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What one browser typed and showed.
pub struct BrowserRecord {
    /// `browser 0`.
    pub name: String,
    /// Every text typed, in order (each unique).
    pub typed: Vec<String>,
    /// What the widget shows at the end, in order.
    pub lines: Vec<Line>,
    /// Whether the final round's answer appeared.
    pub answered: bool,
}

/// The running browsers.
pub struct Browsers {
    /// Kept alive until the records are in: dropping it kills every browser.
    chrome: ChromeDriver,
    tasks: Vec<JoinHandle<BrowserRecord>>,
}

/// How long a browser waits, at the end, for every line to be acknowledged.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

impl Browsers {
    /// Opens `count` browsers on `page_url` and starts them typing.
    pub async fn start(
        count: usize,
        page_url: &str,
        control: Arc<Control>,
        rng: &mut Rng,
    ) -> Browsers {
        let mut chrome = ChromeDriver::start().await;
        let mut tasks = Vec::new();
        for index in 0..count {
            let client = chrome.session().await;
            open_widget(&client, page_url).await;
            tasks.push(tokio::spawn(type_along(
                index,
                client,
                control.clone(),
                rng.fork(),
            )));
        }
        Browsers { chrome, tasks }
    }

    /// Waits for every browser's record (they stop when the conductor says so).
    pub async fn finish(self) -> Vec<BrowserRecord> {
        let mut records = Vec::new();
        for task in self.tasks {
            records.push(task.await.expect("a browser task panicked"));
        }
        drop(self.chrome);
        records
    }
}

async fn type_along(
    index: usize,
    client: fantoccini::Client,
    control: Arc<Control>,
    mut rng: Rng,
) -> BrowserRecord {
    let mut record = BrowserRecord {
        name: format!("browser {index}"),
        typed: Vec::new(),
        lines: Vec::new(),
        answered: false,
    };
    let mut next_write = Instant::now() + Duration::from_millis(rng.between(0, 2_000));
    let mut final_written = false;
    while !control.stop.load(Ordering::SeqCst) {
        if control.writing.load(Ordering::SeqCst) && Instant::now() >= next_write {
            let text = format!("b{index} m{}", record.typed.len());
            widget_write(&client, &text).await;
            record.typed.push(text);
            next_write = Instant::now() + Duration::from_millis(rng.between(1_500, 4_000));
        }
        if control.final_round.load(Ordering::SeqCst) && !final_written {
            let text = format!("b{index} final");
            widget_write(&client, &text).await;
            record.typed.push(text);
            final_written = true;
        }
        if final_written && !record.answered {
            record.answered = lines(&client, true, "")
                .await
                .iter()
                .any(|l| l.author == "operator" && l.text.ends_with(" final"));
            control.browser_answered(index, record.answered);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // What the visitor sees once everything settled: every line acknowledged, or the limit.
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        record.lines = lines(&client, true, "").await;
        let settled = record
            .lines
            .iter()
            .all(|l| acknowledged(&l.status) || l.author == "system");
        if settled || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = client.close().await;
    record
}

/// Whether a line's `data-status` says its message was acknowledged: stored on one deployment
/// (`sent`), on both (`delivered`), or read by the operator (`read`); only `pending` is not.
pub fn acknowledged(status: &str) -> bool {
    matches!(status, "sent" | "delivered" | "read")
}
