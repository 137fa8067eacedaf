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
    std::fs::copy(root().join("www/loader.js"), site.join("loader.js"))?;
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
