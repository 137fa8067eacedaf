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
