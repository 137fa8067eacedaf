//! The deployment as an operating system sees it: a real process that answers health checks over
//! HTTP, serves its assets, and stops cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tests::deployment::Deployment;

/// A minimal HTTP/1.1 GET over a real socket, returning the status line, headers and body as text.
fn get(port: u16, path: &str, headers: &str) -> String {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("the deployment accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("a complete answer");
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn health_assets_and_a_clean_stop_on_sigterm() {
    let mut deployment = Deployment::start();
    let health = get(deployment.port, "/health", "");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""ok":true"#), "{health}");

    let wasm = get(
        deployment.port,
        "/widget/widget_bg.wasm",
        "Accept-Encoding: gzip\r\n",
    );
    let head = wasm.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");

    let console = get(deployment.port, "/console/", "");
    assert!(
        console.starts_with("HTTP/1.1 200") && console.contains("<html"),
        "{console}"
    );

    let status = deployment.terminate();
    assert!(
        status.success(),
        "the deployment should exit cleanly on SIGTERM, got {status}"
    );
}
