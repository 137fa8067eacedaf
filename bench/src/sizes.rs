//! Widget weight: what the browser downloads, gzipped, from the release build of the site.

use std::path::Path;

/// The most the inline loader may weigh, gzipped: all a new visitor downloads for the chat
/// until they touch it.
pub const LAUNCHER_BUDGET_GZ_BYTES: u64 = 5_000;

/// `path` gzipped at level 9: the loader, which arrives inside the customer's own page,
/// compressed however their server compresses it.
fn gz_file(path: &Path) -> anyhow::Result<u64> {
    Ok(xtask::gzip(&std::fs::read(path)?, 9).len() as u64)
}

/// The size of the copy the build wrote beside `path` with the extension `encoding` (`gz` or
/// `br`): what a deployment sends a browser that takes that encoding.
fn copy_size(path: &Path, encoding: &str) -> anyhow::Result<u64> {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(encoding);
    let copy = Path::new(&name);
    anyhow::ensure!(
        copy.exists(),
        "{} has no {encoding} copy: the site was built without `precompress`",
        path.display()
    );
    Ok(std::fs::metadata(copy)?.len())
}

/// `widget_wasm_gz_bytes`, `widget_total_gz_bytes`, `launcher_gz_bytes`,
/// `widget_chunks_gz_bytes`, and as served to a browser that takes brotli,
/// `widget_wasm_br_bytes` and `widget_total_br_bytes`.
///
/// The snippet's inline loader, `widget.js` and `widget_bg.wasm` are everything the open widget
/// needs before the panel is usable (its stylesheet is compiled in; the chunk brings its own). The loader draws the launcher
/// button itself and imports the module only on the first click (or at once for a returning
/// visitor), so what a new visitor loads before touching the widget is the loader alone, inlined
/// in the page. The chunks (`*.wasm` beside the module: the forms, the rating, the transcript
/// tools, the emoji picker's buttons, the file views) are fetched only when one of them is first
/// shown, so they are reported apart and not counted in the first load.
///
/// Each figure is the size of the copy a deployment sends: the build's gzip copies (Zopfli in
/// release builds; `gzip -9` until 2026-12-06, which made the module about 4.5% larger) for the
/// `_gz_` figures, its brotli copies (what every current browser takes) for the `_br_` ones. The
/// loader is counted at `gzip -9` in both, since it arrives inside the customer's own page,
/// compressed however their server compresses it.
pub fn measure(site: &Path, root: &Path) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let module = site.join("widget/widget_bg.wasm");
    let glue = site.join("widget/widget.js");
    let loader = gz_file(&root.join("www/loader.min.js"))?;
    let wasm = copy_size(&module, "gz")?;
    let total = wasm + copy_size(&glue, "gz")? + loader;
    let wasm_br = copy_size(&module, "br")?;
    let total_br = wasm_br + copy_size(&glue, "br")? + loader;
    let mut chunks = 0;
    for entry in std::fs::read_dir(site.join("widget"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".wasm") && name != "widget_bg.wasm" {
            chunks += copy_size(&path, "gz")?;
        }
    }
    Ok(vec![
        ("widget_wasm_gz_bytes", wasm as f64),
        ("widget_total_gz_bytes", total as f64),
        ("launcher_gz_bytes", loader as f64),
        ("widget_chunks_gz_bytes", chunks as f64),
        ("widget_wasm_br_bytes", wasm_br as f64),
        ("widget_total_br_bytes", total_br as f64),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a new visitor downloads before touching the chat is the inline loader alone: it
    /// keeps the budget the bench reports against (`report.rs`), whatever the API, the outage
    /// copy or the look add to it.
    #[test]
    fn the_inline_loader_stays_within_its_budget() {
        let loader = Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/loader.min.js");
        let size = gz_file(&loader).unwrap();
        assert!(
            size <= LAUNCHER_BUDGET_GZ_BYTES,
            "the loader is {size} B gzipped"
        );
    }
}
