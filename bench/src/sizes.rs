//! Widget weight: what the browser downloads, gzipped, from the release build of the site.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;

fn gz_len(bytes: &[u8]) -> u64 {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory").len() as u64
}

fn gz_file(path: &Path) -> anyhow::Result<u64> {
    Ok(gz_len(&std::fs::read(path)?))
}

/// `widget_wasm_gz_bytes`, `widget_total_gz_bytes`, `launcher_gz_bytes`.
///
/// The snippet's inline loader, `widget.js` and `widget_bg.wasm` are everything the open widget
/// needs (its stylesheet is compiled in). The loader draws the launcher button itself and imports
/// the module only on the first click (or at once for a returning visitor), so what a new visitor
/// loads before touching the widget is the loader alone, inlined in the page.
pub fn measure(site: &Path, root: &Path) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let wasm = gz_file(&site.join("widget/widget_bg.wasm"))?;
    let js = gz_file(&site.join("widget/widget.js"))?;
    let loader = gz_file(&root.join("www/loader.js"))?;
    let total = wasm + js + loader;
    Ok(vec![
        ("widget_wasm_gz_bytes", wasm as f64),
        ("widget_total_gz_bytes", total as f64),
        ("launcher_gz_bytes", loader as f64),
    ])
}
