//! The customer's website: a minimal HTTP server on its own origin (`http://localhost:PORT`,
//! while the deployments are `http://127.0.0.1:…`) serving the demo page, whose snippet names the
//! deployments and the moderator. It keeps serving whatever happens to the deployments, as a real
//! customer's site would.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `html` for every request until the test ends; returns the page's URL.
pub async fn serve_page(html: String) -> String {
    serve_page_with_headers(html, String::new()).await
}

/// Like [`serve_page`], with extra header lines (each ending in `\r\n`), such as the customer's
/// Content Security Policy.
pub async fn serve_page_with_headers(html: String, headers: String) -> String {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(html));
    serve_slot(slot, headers).await
}

/// A page whose HTML is set after its address is known (a snippet made for this very origin):
/// returns the URL and the slot to put the HTML in; every request gets its current content.
pub async fn serve_page_slot() -> (String, std::sync::Arc<std::sync::Mutex<String>>) {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    (serve_slot(slot.clone(), String::new()).await, slot)
}

async fn serve_slot(slot: std::sync::Arc<std::sync::Mutex<String>>, headers: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (slot, headers) = (slot.clone(), headers.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 2048];
                // Read the request head; its content does not matter, every path gets the page.
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                // Read now, not when the connection was accepted: browsers open connections
                // ahead of need, and the page may have changed since.
                let html = slot.lock().unwrap().clone();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncache-control: no-store\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://localhost:{port}/")
}

/// A running pair with its moderator, and the demo page (naming both deployments and the
/// moderator) served from its own origin: what the failover tests in a browser start from.
pub struct DemoPair {
    /// The primary deployment.
    pub primary: crate::pair::Member,
    /// The redundant deployment.
    pub redundant: crate::pair::Member,
    /// The moderator, once it has told both who is active.
    pub moderator: crate::moderator::ModeratorProcess,
    /// The demo page's URL.
    pub page_url: String,
}

/// Starts a [`DemoPair`].
pub async fn demo_pair() -> DemoPair {
    let (mut primary, mut redundant) = crate::pair::prepare_pair(0);
    primary.start();
    redundant.start();
    let moderator = crate::moderator::ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = [primary.url(), redundant.url()];
    let page = xtask::render_demo_page(
        &crate::root(),
        &deployments,
        Some(&moderator.url),
        crate::deployment::SITE_ID,
    )
    .expect("the demo page renders");
    DemoPair {
        primary,
        redundant,
        moderator,
        page_url: serve_page(page).await,
    }
}
