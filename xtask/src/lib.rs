//! What the xtask binary shares with the end-to-end tests: rendering the demo customer page, whose
//! snippet names the deployments and the moderator and inlines the loader.

use std::path::Path;

/// The demo page (`www/index.html`) with its snippet filled in: `deployments` (primary first),
/// the `moderator` if any, and `www/loader.js` inlined, so the page loads the widget from
/// whichever deployment answers even when the primary is down.
pub fn render_demo_page(
    root: &Path,
    deployments: &[String],
    moderator: Option<&str>,
    site_id: &str,
) -> std::io::Result<String> {
    let template = std::fs::read_to_string(root.join("www/index.html"))?;
    let loader = std::fs::read_to_string(root.join("www/loader.js"))?;
    let quoted = |s: &str| format!("\"{s}\"");
    let list = deployments
        .iter()
        .map(|u| quoted(u))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(template
        .replace("{{DEPLOYMENT_URLS}}", &list)
        .replace(
            "{{MODERATOR_URL}}",
            &moderator.map(quoted).unwrap_or_else(|| "null".into()),
        )
        .replace("{{LOADER}}", loader.trim())
        .replace("{{SITE_ID}}", site_id))
}
