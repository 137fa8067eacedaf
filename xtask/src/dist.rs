//! `cargo xtask dist`: the release binaries, with the site built into `server`, and a check that
//! the `server` binary alone runs a deployment: copied into an empty directory and started there
//! with an empty environment (no site, no configuration, no secret), it must answer `/health`,
//! serve the widget (its chunks too), the console and the loader, and stop cleanly on SIGTERM.

use crate::{cargo, run, site, step, target_dir, tools};
use anyhow::{bail, Context};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Builds the release site, then `server` and `moderator` in release (the site embedded), and
/// checks the server on its own.
pub fn run_dist() -> anyhow::Result<()> {
    tools::ensure_wasm_tools()?;
    site::build(true)?;
    step("Building server and moderator (release, the site built into server)");
    run(cargo().args([
        "build",
        "--release",
        "--bin",
        "server",
        "--bin",
        "moderator",
    ]))?;
    let release = target_dir().join("release");
    step("Checking that the server binary alone runs a deployment");
    check_alone(&release.join("server"))?;
    step(&format!(
        "Ready: {} and {} (one file each; see docs/operations.md)",
        release.join("server").display(),
        release.join("moderator").display()
    ));
    Ok(())
}

/// Copies `binary` into an empty directory, starts it there with nothing in its environment, and
/// fetches what a visitor and an operator need from it.
fn check_alone(binary: &Path) -> anyhow::Result<()> {
    // A fresh directory of its own each time, holding nothing but the binary.
    let dir = target_dir().join("dist-check");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let alone = dir.join("server");
    std::fs::copy(binary, &alone)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(&alone)
        .current_dir(&dir)
        .env_clear()
        .args([
            "--data-dir",
            "data",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "serve",
        ])
        .stdout(Stdio::null())
        .spawn()
        .context("the copied server starts")?;
    let checked = (|| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the server did not start listening");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The widget's chunks (loaded on first use) are served like its module.
        let mut chunks = Vec::new();
        for entry in std::fs::read_dir(target_dir().join("site/widget"))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with("split_") && name.ends_with(".wasm") {
                chunks.push(format!("/widget/{name}"));
            }
        }
        if chunks.is_empty() {
            bail!("the site has no widget chunk (split_*.wasm)");
        }
        let fixed = [
            ("/health", "application/json"),
            ("/widget/widget.js", "javascript"),
            ("/widget/widget_bg.wasm", "application/wasm"),
            ("/console/", "text/html"),
            ("/console/console_bg.wasm", "application/wasm"),
            ("/loader.js", "javascript"),
        ];
        let chunks = chunks.iter().map(|c| (c.as_str(), "application/wasm"));
        for (path, kind) in fixed.into_iter().chain(chunks) {
            let (status, content_type, length) = fetch(port, path)?;
            if status != 200 || !content_type.contains(kind) || length == 0 {
                bail!("{path}: {status} {content_type}, {length} bytes");
            }
            println!("  {path}: {status} {content_type}, {length} bytes");
        }
        // What a visitor's browser gets: the build's brotli copy of the module, as it is.
        let path = "/widget/widget_bg.wasm";
        let site = target_dir().join("site");
        let copy = std::fs::metadata(site.join("widget/widget_bg.wasm.br"))?.len() as usize;
        let (status, _, encoding, length) = fetch_encoded(port, path, "gzip, deflate, br")?;
        if status != 200 || encoding != "br" || length != copy {
            bail!("{path} for brotli: {status} {encoding:?}, {length} bytes, the copy {copy}");
        }
        println!("  {path} (brotli): {status}, {length} bytes");
        Ok(())
    })();
    Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()?;
    let exited = child.wait()?;
    checked?;
    if !exited.success() {
        bail!("the server did not stop cleanly on SIGTERM: {exited}");
    }
    Ok(())
}

/// A plain HTTP/1.1 GET on loopback: the status, the content type and the body's length.
fn fetch(port: u16, path: &str) -> anyhow::Result<(u16, String, usize)> {
    let (status, content_type, _, length) = fetch_encoded(port, path, "identity")?;
    Ok((status, content_type, length))
}

/// A GET taking `accept_encoding`: the status, the content type, the content encoding and the
/// body's length.
fn fetch_encoded(
    port: u16,
    path: &str,
    accept_encoding: &str,
) -> anyhow::Result<(u16, String, String, usize)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: {accept_encoding}\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("an HTTP answer")?;
    let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    Ok((
        status,
        header("content-type:"),
        header("content-encoding:"),
        answer.len() - split - 4,
    ))
}
