//! Files in headless Chromium, with the widget and the console: an image and a PDF sent each way
//! (through the file picker, a paste, a drop) and opened on the other side; a forbidden type and
//! an oversized file refused in the widget before anything is uploaded. Then failovers: the
//! primary killed in the middle of an upload (the file arrives once, from the other deployment,
//! with no error shown), and a file that reached only the deployment that died (the other one
//! refuses the message, the widget uploads the file there and sends it again: once).

use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::browser::{
    console_accept_first, console_login, lines, open_widget, widget_deployment, widget_element,
    widget_has, widget_shows, widget_write, ChromeDriver, WAIT,
};
use tests::eventually;
use tests::moderator::ModeratorProcess;
use tests::page::{demo_pair, DemoPair};
use tests::pair::{in_sync, stored_counts, stored_once_on_both, Member};

/// A one-pixel PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A PDF of `size` bytes (a header, then filler): its bytes are what the test compares.
fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n% test file\n".to_vec();
    bytes.extend((0..size.saturating_sub(bytes.len())).map(|i| b'a' + (i % 26) as u8));
    bytes
}

/// Writes `bytes` as `name` in `dir` and returns the path (what the file picker is given).
fn file_at(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// Picks the file at `path` in the file input `css` (inside the widget when `in_widget`), as the
/// browser's own picker would.
async fn pick(client: &Client, in_widget: bool, css: &str, path: &str) {
    let input = if in_widget {
        let host = client.find(Locator::Id("livechat-root")).await.unwrap();
        host.shadow_root()
            .await
            .unwrap()
            .find(Locator::Css(css))
            .await
            .unwrap()
    } else {
        client.find(Locator::Css(css)).await.unwrap()
    };
    input.send_keys(path).await.unwrap();
}

/// Builds a file in the page from base64 `bytes` and fires `event` (`paste` or `drop`) carrying
/// it at the element `css` (inside the widget when `in_widget`).
async fn hand_over(
    client: &Client,
    in_widget: bool,
    css: &str,
    event: &str,
    file: (&str, &str, &[u8]),
) {
    use base64::Engine;
    let (name, kind, bytes) = file;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let script = r#"
        const [inWidget, css, event, name, kind, encoded] = arguments;
        const root = inWidget ? document.getElementById('livechat-root').shadowRoot : document;
        const target = root.querySelector(css);
        const raw = atob(encoded);
        const bytes = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, { type: kind }));
        const fired = event === 'paste'
            ? new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })
            : new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true });
        target.dispatchEvent(fired);
    "#;
    client
        .execute(
            script,
            vec![
                in_widget.into(),
                css.into(),
                event.into(),
                name.into(),
                kind.into(),
                encoded.into(),
            ],
        )
        .await
        .unwrap();
}

/// How many attachments named `name` the widget (or the console's `scope`) shows, and how
/// many of them are decoded images.
async fn shown(client: &Client, in_widget: bool, scope: &str, name: &str) -> (u64, u64) {
    let script = r#"
        const [inWidget, scope, name] = arguments;
        const root = inWidget ? document.getElementById('livechat-root')?.shadowRoot : document;
        const id = inWidget ? 'chat-attachment' : 'console-attachment';
        const found = Array.from(root?.querySelectorAll(scope + ' [data-testid="' + id + '"]') || [])
            .filter(e => e.dataset.name === name);
        const images = found.filter(e => { const i = e.querySelector('img'); return i && i.complete && i.naturalWidth > 0; });
        return [found.length, images.length];
    "#;
    let value = client
        .execute(script, vec![in_widget.into(), scope.into(), name.into()])
        .await
        .unwrap();
    (
        value[0].as_u64().unwrap_or(0),
        value[1].as_u64().unwrap_or(0),
    )
}

/// Where one browser saves what it downloads.
struct Browser<'a> {
    client: &'a Client,
    in_widget: bool,
    scope: &'a str,
    downloads: &'a Path,
}

/// Waits until exactly one attachment `name` shows, and opens it: an image is decoded in the
/// page; any other file is clicked and must land in the browser's downloads with `bytes`.
async fn opens_once(at: &Browser<'_>, name: &str, bytes: &[u8]) {
    let image = name.ends_with(".png");
    let want = (1, u64::from(image));
    eventually(&format!("{name} shown once"), WAIT, || async {
        (shown(at.client, at.in_widget, at.scope, name).await == want).then_some(())
    })
    .await;
    if image {
        return;
    }
    let css = format!(
        "{} [data-testid=\"{}\"][data-name=\"{name}\"]",
        at.scope,
        match at.in_widget {
            true => "chat-attachment",
            false => "console-attachment",
        }
    );
    let link = if at.in_widget {
        let host = at.client.find(Locator::Id("livechat-root")).await.unwrap();
        host.shadow_root()
            .await
            .unwrap()
            .find(Locator::Css(&css))
            .await
            .unwrap()
    } else {
        at.client.find(Locator::Css(&css)).await.unwrap()
    };
    link.click().await.unwrap();
    let saved = at.downloads.join(name);
    eventually(&format!("{name} downloaded"), WAIT, || async {
        (std::fs::read(&saved).ok()? == bytes).then_some(())
    })
    .await;
}

/// The widget's notice, once there is one.
async fn notice(client: &Client) -> String {
    widget_element(client, "chat-notice")
        .await
        .text()
        .await
        .unwrap()
}

/// Two download folders, then a console (logged in at `console_url`) and a widget (on `page`)
/// in browsers that save there.
struct Pair {
    visitor: Client,
    operator: Client,
    visitor_downloads: tempfile::TempDir,
    operator_downloads: tempfile::TempDir,
}

impl Pair {
    async fn open(chrome: &mut ChromeDriver, console_url: &str, page: &str) -> Pair {
        let (visitor_downloads, operator_downloads) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let operator = chrome
            .session_downloading_to(Some(operator_downloads.path()))
            .await;
        console_login(&operator, console_url).await;
        let visitor = chrome
            .session_downloading_to(Some(visitor_downloads.path()))
            .await;
        open_widget(&visitor, page).await;
        Pair {
            visitor,
            operator,
            visitor_downloads,
            operator_downloads,
        }
    }

    /// The widget's side.
    fn widget(&self) -> Browser<'_> {
        Browser {
            client: &self.visitor,
            in_widget: true,
            scope: "",
            downloads: self.visitor_downloads.path(),
        }
    }

    /// The console's pane `pane`.
    fn console<'a>(&'a self, pane: &'a str) -> Browser<'a> {
        Browser {
            client: &self.operator,
            in_widget: false,
            scope: pane,
            downloads: self.operator_downloads.path(),
        }
    }

    /// Starts the chat: the visitor writes, the operator accepts; returns the pane.
    async fn chat(&self) -> String {
        widget_write(&self.visitor, "Here come some files").await;
        widget_shows(&self.visitor, &["Here come some files"]).await;
        console_accept_first(&self.operator).await
    }

    async fn close(self) {
        for client in [self.visitor, self.operator] {
            client.close().await.unwrap();
        }
    }
}

const ATTACH: &str = "[data-testid=\"chat-attach\"]";
const INPUT: &str = "[data-testid=\"chat-input\"]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_pdfs_go_both_ways_and_open_and_bad_files_are_refused_before_upload() {
    let deployment = tests::deployment::Deployment::start();
    let dir = tempfile::tempdir().unwrap();
    let mut chrome = ChromeDriver::start().await;
    let page = format!("{}/", deployment.page_origin());
    let both = Pair::open(&mut chrome, &deployment.console_url(), &page).await;
    let (visitor, operator) = (&both.visitor, &both.operator);
    let pane = both.chat().await;

    // The visitor: a PDF through the picker, an image pasted into the message field.
    let report = pdf(40_000);
    pick(
        visitor,
        true,
        ATTACH,
        &file_at(dir.path(), "report.pdf", &report),
    )
    .await;
    let screenshot = ("screenshot.png", "image/png", PNG);
    hand_over(visitor, true, INPUT, "paste", screenshot).await;
    opens_once(&both.console(&pane), "report.pdf", &report).await;
    opens_once(&both.console(&pane), "screenshot.png", PNG).await;
    opens_once(&both.widget(), "screenshot.png", PNG).await;

    // The operator: an image dropped on the pane, a PDF through the picker.
    hand_over(
        operator,
        false,
        &pane,
        "drop",
        ("diagram.png", "image/png", PNG),
    )
    .await;
    let invoice = pdf(3_000);
    let picker = format!("{pane} [data-testid=\"reply-attach\"]");
    pick(
        operator,
        false,
        &picker,
        &file_at(dir.path(), "invoice.pdf", &invoice),
    )
    .await;
    opens_once(&both.widget(), "diagram.png", PNG).await;
    opens_once(&both.widget(), "invoice.pdf", &invoice).await;
    opens_once(&both.console(&pane), "invoice.pdf", &invoice).await;

    // A forbidden type and a file over the deployment's 10 MB: refused with the reason, before
    // any upload, and nothing is sent.
    let before = lines(visitor, true, "").await.len();
    let page_file = file_at(dir.path(), "page.html", b"<script>alert(1)</script>");
    pick(visitor, true, ATTACH, &page_file).await;
    let said = notice(visitor).await;
    assert!(
        said.contains("page.html") && said.contains("cannot be sent"),
        "{said}"
    );
    let huge = pdf(10 * 1024 * 1024 + 1);
    let panel = "[data-testid=\"chat-panel\"]";
    hand_over(
        visitor,
        true,
        panel,
        "drop",
        ("huge.pdf", "application/pdf", &huge),
    )
    .await;
    eventually("the size refused", WAIT, || async {
        notice(visitor)
            .await
            .contains("limited to 10 MB")
            .then_some(())
    })
    .await;
    assert!(
        !widget_has(visitor, "chat-upload").await,
        "nothing is uploaded"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lines(visitor, true, "").await.len(),
        before,
        "nothing is sent"
    );
    both.close().await;
}

/// A pair with its moderator, a console logged in at the primary, and a widget whose first
/// message the operator accepted.
async fn chatting_pair(
    chrome: &mut ChromeDriver,
) -> (Member, Member, ModeratorProcess, Pair, String) {
    let DemoPair {
        primary,
        redundant,
        moderator,
        page_url,
    } = demo_pair().await;
    let both = Pair::open(chrome, &format!("{}/console/", primary.url()), &page_url).await;
    let pane = both.chat().await;
    // The operator has joined, on both deployments, before anything fails.
    widget_shows(
        &both.visitor,
        &["Here come some files", "Ada Admin joined the chat"],
    )
    .await;
    in_sync(&primary, &redundant).await;
    (primary, redundant, moderator, both, pane)
}

/// Checks the end of a failover: the file shown once on both sides and opened, no error, and,
/// once the dead deployment is back, every message stored once on both.
async fn arrived_once(
    (both, pane): (&Pair, &str),
    (name, bytes): (&str, &[u8]),
    (primary, redundant): (&Member, &Member),
) {
    opens_once(&both.widget(), name, bytes).await;
    opens_once(&both.console(pane), name, bytes).await;
    assert!(
        !widget_has(&both.visitor, "chat-notice").await,
        "no error shown"
    );
    let all = lines(&both.visitor, true, "").await;
    assert_eq!(all.len(), 3, "{all:?}");
    stored_once_on_both(primary, redundant, all.iter().map(|l| l.id.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_while_the_primary_dies_mid_upload_arrives_once() {
    let mut chrome = ChromeDriver::start().await;
    let (mut primary, redundant, _moderator, both, pane) = chatting_pair(&mut chrome).await;
    let dir = tempfile::tempdir().unwrap();
    // Frozen, the primary still takes the connection and some bytes, then nothing more: the
    // upload is under way when it dies.
    primary.freeze();
    let manual = pdf(6 * 1024 * 1024);
    pick(
        &both.visitor,
        true,
        ATTACH,
        &file_at(dir.path(), "manual.pdf", &manual),
    )
    .await;
    widget_element(&both.visitor, "chat-upload").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    primary.kill9();
    opens_once(&both.widget(), "manual.pdf", &manual).await;
    assert_eq!(widget_deployment(&both.visitor).await, redundant.url());
    primary.start();
    let files = ("manual.pdf", manual.as_slice());
    arrived_once((&both, &pane), files, (&primary, &redundant)).await;
    both.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_only_the_dead_deployment_had_is_uploaded_again_at_the_other_and_arrives_once() {
    let mut chrome = ChromeDriver::start().await;
    let (mut primary, redundant, _moderator, both, pane) = chatting_pair(&mut chrome).await;
    // The redundant deployment hears nothing while the file goes to the primary: the message
    // is stored there (`sent`) and nowhere else.
    redundant.freeze();
    hand_over(
        &both.visitor,
        true,
        INPUT,
        "paste",
        ("photo.png", "image/png", PNG),
    )
    .await;
    opens_once(&both.console(&pane), "photo.png", PNG).await;
    let all = lines(&both.visitor, true, "").await;
    let file = all.iter().find(|l| l.text.is_empty()).unwrap().id.clone();
    primary.kill9();
    redundant.thaw();
    // The widget resends the message to the redundant deployment, which has no such file: the
    // widget uploads it there and sends the message again, stored there with the primary still
    // down.
    eventually(
        "the file stored by the redundant deployment",
        WAIT,
        || async {
            stored_counts(redundant.data_dir.path())
                .contains_key(&file)
                .then_some(())
        },
    )
    .await;
    assert_eq!(widget_deployment(&both.visitor).await, redundant.url());
    primary.start();
    arrived_once((&both, &pane), ("photo.png", PNG), (&primary, &redundant)).await;
    both.close().await;
}
