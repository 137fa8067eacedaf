//! Builds the static site a deployment serves: `target/site/widget/`, `target/site/console/`, and
//! the loader. The demo page is rendered separately (see [`render_demo_page`]) because it names
//! the deployment's URL.

use crate::tools::path_with_tools;
use crate::{root, run, step, target_dir};
use std::path::Path;
use std::process::Command;

/// Builds both WebAssembly apps with Trunk and copies the loader.
pub fn build(release: bool) -> anyhow::Result<()> {
    let site = target_dir().join("site");
    for app in ["widget", "console"] {
        step(&format!(
            "Building the {app} ({})",
            if release { "release" } else { "debug" }
        ));
        let mut trunk = Command::new("trunk");
        trunk
            .current_dir(root())
            .env("PATH", path_with_tools())
            .env("TRUNK_SKIP_VERSION_CHECK", "true")
            .args(["--config", "Trunk.toml", "build"])
            .arg(format!("{app}/index.html"))
            .arg("--dist")
            .arg(site.join(app))
            .args(["--public-url", &format!("/{app}/")]);
        if release {
            trunk.arg("--release");
        }
        run(&mut trunk)?;
    }
    std::fs::copy(root().join("www/loader.js"), site.join("loader.js"))?;
    Ok(())
}

/// Writes the demo customer page into `dir`, with the snippet naming `deployment_urls` (primary
/// first; the loader script itself comes from the first).
pub fn render_demo_page(
    dir: &Path,
    deployment_urls: &[String],
    site_id: &str,
) -> anyhow::Result<()> {
    let template = std::fs::read_to_string(root().join("www/index.html"))?;
    let list = deployment_urls
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let page = template
        .replace("{{DEPLOYMENT_URLS}}", &list)
        .replace("{{DEPLOYMENT_URL}}", &deployment_urls[0])
        .replace("{{SITE_ID}}", site_id);
    std::fs::write(dir.join("index.html"), page)?;
    Ok(())
}
