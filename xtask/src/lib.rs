//! What the xtask binary shares with the end-to-end tests: rendering the demo customer page, whose
//! snippet names the deployments and the moderator and inlines the loader.

use sha2::Digest;
use std::io::Write;
use std::path::Path;

/// `data` compressed with brotli at `quality` (0 to 11), as a deployment serves it to browsers
/// that accept `br`.
pub fn brotli(data: &[u8], quality: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        // A 4 MB window (22 bits, brotli's default) holds any file of the site whole.
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, 22);
        writer.write_all(data).expect("writing to memory");
    }
    out
}

/// `data` gzipped at `level` (0 to 9) by zlib's method: quick, for debug builds and for what
/// is compressed by someone else's server (the loader inlined in a customer's page).
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// `data` gzipped as small as the format allows, for the copies of a release build that a
/// deployment serves to browsers without brotli. Zopfli searches far harder than zlib's level 9
/// for the same format (any gzip reader decodes it): the widget's module comes out about 4.5%
/// smaller, for about a second of build time per megabyte.
pub fn gzip_best(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        data,
        &mut out,
    )
    .expect("writing to memory");
    out
}

/// The minified loader, what the snippet inlines (made from `www/loader.js` by `cargo xtask`).
pub const LOADER_MIN: &str = "www/loader.min.js";

/// The first line of `www/loader.min.js` made from the loader `source`: where it comes from and
/// the source's SHA-256, so that a minified loader older than its source is noticed.
pub fn loader_min_header(source: &str) -> String {
    let hash: String = sha2::Sha256::digest(source.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("/* LiveChat loader, minified from www/loader.js (sha256 {hash}) */")
}

/// The demo page (`www/index.html`) with its snippet filled in: `deployments` (primary first),
/// the `moderator` if any, and the loader (`www/loader.min.js`) inlined, so the page loads the widget from
/// whichever deployment answers even when the primary is down.
pub fn render_demo_page(
    root: &Path,
    deployments: &[String],
    moderator: Option<&str>,
    site_id: &str,
) -> std::io::Result<String> {
    let template = std::fs::read_to_string(root.join("www/index.html"))?;
    let loader = std::fs::read_to_string(root.join(LOADER_MIN))?;
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
