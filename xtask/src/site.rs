//! Builds the static site a deployment serves: `target/site/widget/`, `target/site/console/`, and
//! the loader. The demo page is rendered separately (see [`render_demo_page`]) because it names
//! the deployments' and the moderator's URLs.

use crate::tools::path_with_tools;
use crate::{root, run, step, target_dir};
use std::path::Path;
use std::process::Command;

/// Builds both WebAssembly apps (the console with Trunk, the widget with [`crate::widget`]) and
/// copies the loader.
pub fn build(release: bool) -> anyhow::Result<()> {
    let site = target_dir().join("site");
    let profile = if release { "release" } else { "debug" };
    step(&format!("Building the widget ({profile})"));
    crate::widget::build(release, &site.join("widget"))?;
    step(&format!("Building the console ({profile})"));
    let mut trunk = Command::new("trunk");
    trunk
        .current_dir(root())
        .env("PATH", path_with_tools())
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .args(["--config", "Trunk.toml", "build", "console/index.html"])
        .arg("--dist")
        .arg(site.join("console"))
        .args(["--public-url", "/console/"]);
    if release {
        trunk.arg("--release");
    }
    run(&mut trunk)?;
    minify_loader()?;
    std::fs::copy(root().join(xtask::LOADER_MIN), site.join("loader.js"))?;
    step("Compressing the site (brotli and gzip, beside each file)");
    precompress(&site, release)?;
    Ok(())
}

/// The files a deployment serves compressed ahead of time: everything a browser runs or reads.
/// Not HTML: the demo page is written into the site after the build (and the console's page is
/// answered with its policy by the server), so a compressed copy could be stale.
const PRECOMPRESSED: [&str; 4] = ["wasm", "js", "json", "css"];

/// Writes a brotli (`.br`) and a gzip (`.gz`) copy beside every file of `site` that a deployment
/// serves compressed (see [`PRECOMPRESSED`]), so that what a visitor downloads is compressed as
/// far as it goes once, at build time, rather than at the middling level a server can afford per
/// request. Release builds use brotli's best quality (about a second per megabyte; the widget's
/// module comes out about 18% smaller than with `gzip -9`) and Zopfli for gzip
/// ([`xtask::gzip_best`]); debug builds, whose modules are ten times larger and rebuilt often,
/// fast ones. A copy that would not be smaller is not written.
pub fn precompress(site: &Path, release: bool) -> anyhow::Result<()> {
    let quality = if release { 11 } else { 5 };
    let mut dirs = vec![site.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let kind = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !PRECOMPRESSED.contains(&kind) {
                continue;
            }
            let data = std::fs::read(&path)?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let br = path.with_file_name(format!("{name}.br"));
            let gz = path.with_file_name(format!("{name}.gz"));
            let brotli = xtask::brotli(&data, quality);
            let gzip = if release {
                xtask::gzip_best(&data)
            } else {
                xtask::gzip(&data, 6)
            };
            for (copy, bytes) in [(br, brotli), (gz, gzip)] {
                if bytes.len() < data.len() {
                    std::fs::write(copy, bytes)?;
                } else if copy.exists() {
                    std::fs::remove_file(copy)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes `www/loader.min.js`, what the snippet inlines on customers' pages, from `www/loader.js`
/// with terser, unless it is already made from the loader as it is now (its first line names the
/// source's hash). It is committed, so that building the server needs no Node.js; a tidy test
/// fails when it is stale.
pub fn minify_loader() -> anyhow::Result<()> {
    let source = std::fs::read_to_string(root().join("www/loader.js"))?;
    let header = xtask::loader_min_header(&source);
    let min_path = root().join(xtask::LOADER_MIN);
    let current = std::fs::read_to_string(&min_path).unwrap_or_default();
    if current.lines().next() == Some(header.as_str()) {
        return Ok(());
    }
    step("Minifying the loader (www/loader.min.js)");
    let output = Command::new(crate::tools::terser())
        .arg(root().join("www/loader.js"))
        .args(["--compress", "--mangle"])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "terser failed on www/loader.js: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let minified = String::from_utf8(output.stdout)?;
    std::fs::write(&min_path, format!("{header}\n{}\n", minified.trim()))?;
    Ok(())
}

/// Writes the demo customer page into `dir`, with the snippet naming `deployment_urls` (primary
/// first) and the moderator.
pub fn render_demo_page(
    dir: &Path,
    deployment_urls: &[String],
    moderator: Option<&str>,
    site_id: &str,
) -> anyhow::Result<()> {
    let page = xtask::render_demo_page(&root(), deployment_urls, moderator, site_id)?;
    std::fs::write(dir.join("index.html"), page)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::precompress;
    use std::io::Read;

    /// Both builds' compressors (release: brotli 11 and Zopfli; debug: quick ones) write copies
    /// that the standard decoders read back to the file.
    #[test]
    fn every_script_module_and_table_gets_copies_that_decode_to_it_and_pages_do_not() {
        for release in [false, true] {
            copies_decode_to_the_file(release);
        }
    }

    fn copies_decode_to_the_file(release: bool) {
        let site = std::env::temp_dir().join(format!(
            "xtask-precompress-{}-{release}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&site);
        std::fs::create_dir_all(site.join("widget/locales")).unwrap();
        let text = "const greeting = 'hello, visitor';\n".repeat(200);
        for name in ["widget/widget.js", "widget/locales/en.json", "index.html"] {
            std::fs::write(site.join(name), &text).unwrap();
        }
        // Too small to gain anything: no copy, and a stale one from an earlier build goes.
        std::fs::write(site.join("widget/tiny.js"), "1").unwrap();
        std::fs::write(site.join("widget/tiny.js.br"), "stale").unwrap();

        precompress(&site, release).unwrap();

        for name in ["widget/widget.js", "widget/locales/en.json"] {
            let br = std::fs::read(site.join(format!("{name}.br"))).unwrap();
            let mut decoded = String::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, text, "{name}.br");
            let gz = std::fs::read(site.join(format!("{name}.gz"))).unwrap();
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, text, "{name}.gz");
            assert!(br.len() < text.len() / 10, "{name}: {} bytes", br.len());
            assert!(gz.len() < text.len() / 10, "{name}: {} bytes", gz.len());
        }
        for missing in [
            "index.html.br",
            "index.html.gz",
            "widget/tiny.js.br",
            "widget/tiny.js.gz",
        ] {
            assert!(!site.join(missing).exists(), "{missing}");
        }
        std::fs::remove_dir_all(&site).unwrap();
    }
}
