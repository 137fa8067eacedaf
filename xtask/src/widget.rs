//! Builds the visitor widget into `target/site/widget/`: the module every visitor downloads
//! (`widget.js`, `widget_bg.wasm`) and the chunks fetched only when first used
//! (`widget/src/ui/later.rs`).
//!
//! Trunk has no step for splitting a module, so the widget is built here, as Trunk builds the
//! console plus one step:
//!
//! 1. `cargo rustc` for wasm32, linked with `--emit-relocs` so that the splitter can move code.
//! 2. `wasm_split_cli_support` (the splitter Leptos's `#[lazy]` is made for) moves every function
//!    reachable only from a `#[wasm_split]` function into a chunk and writes the small JavaScript
//!    module that loads chunks.
//! 3. `wasm-bindgen`, keeping the linker's exports the chunks import.
//! 4. In release, `wasm-opt` on the module (as Trunk did) and on each chunk.
//! 5. The chunks are renamed after the build (`split_extras.<build>.wasm`), and the chunk loader
//!    is written into `widget.js` (the loader may run `widget.js` from a kept copy, where a
//!    relative import would not resolve), fetching through `widget/split.js`, which fails over
//!    between deployments like the loader does.
//! 6. `terser` minifies `widget.js`.

use crate::tools::path_with_tools;
use crate::{cargo, root, run, target_dir};
use std::hash::Hasher;
use std::path::Path;
use std::process::Command;

/// What `wasm_split_cli_support` names the chunk loader, and how `widget.js` imports it.
const LINK_MODULE: &str = "./__wasm_split.js";

/// Builds the widget into `out` (emptied first).
pub fn build(release: bool, out: &Path) -> anyhow::Result<()> {
    let profile = if release { "release" } else { "debug" };
    let mut rustc = cargo();
    rustc.args([
        "rustc",
        "--package",
        "widget",
        "--bin",
        "widget",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    if release {
        rustc.arg("--release");
    }
    // Only the final link takes the flag, so the widget's dependencies stay shared with every
    // other wasm32 build (the console, clippy).
    rustc.args(["--", "-C", "link-arg=--emit-relocs"]);
    run(&mut rustc)?;

    let linked = target_dir()
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join("widget.wasm");
    let work = target_dir().join("widget-split").join(profile);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let main = work.join("main.wasm");
    let input = std::fs::read(&linked)?;
    let split = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&input);
        options.output_dir = &work;
        options.main_out_path = &main;
        options.link_name = LINK_MODULE;
        options.main_module = "./widget.js";
        options
    })
    .map_err(|e| anyhow::anyhow!("splitting the widget: {e:?}"))?;

    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out)?;
    run(Command::new("wasm-bindgen")
        .env("PATH", path_with_tools())
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--keep-lld-exports",
            "--out-name",
            "widget",
            "--out-dir",
        ])
        .arg(out)
        .arg(&main))?;

    let module = out.join("widget_bg.wasm");
    let dropped = drop_stream_exports(&module)?;
    let renamed = shorten_glue_imports(&module)?;
    anyhow::ensure!(
        dropped == 0 || dropped == STREAM_EXPORTS,
        "the widget exported {dropped} of wasm-streams' {STREAM_EXPORTS} functions: check \
         `drop_stream_exports` against the Leptos in Cargo.lock"
    );
    if release {
        // Every visitor downloads the module, so it is shrunk as far as it goes: -Oz until
        // nothing improves, without the producers section, and knowing that the module's own
        // memory starts zeroed, so zero bytes need no data segment. A chunk shares the module's
        // memory, which is not zero where it lands, so it is not told that.
        wasm_opt(&module, &["--zero-filled-memory"])?;
        for chunk in &split.split_modules {
            wasm_opt(chunk, &[])?;
        }
    }

    // The chunks are named after the build: the module and every chunk.
    let mut build = std::hash::DefaultHasher::new();
    build.write(&std::fs::read(&module)?);
    let mut chunks = Vec::new();
    for chunk in &split.split_modules {
        build.write(&std::fs::read(chunk)?);
    }
    let build = format!("{:016x}", build.finish());
    for chunk in &split.split_modules {
        let stem = chunk
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| anyhow::anyhow!("a chunk without a name: {}", chunk.display()))?;
        let named = format!("{stem}.{build}.wasm");
        std::fs::copy(chunk, out.join(&named))?;
        chunks.push((format!("{stem}.wasm"), named));
    }

    let link = std::fs::read_to_string(work.join(LINK_MODULE))?;
    let fetch = std::fs::read_to_string(root().join("widget/split.js"))?;
    let glue_path = out.join("widget.js");
    let glue = rename_glue_imports(&std::fs::read_to_string(&glue_path)?, &renamed)?;
    std::fs::write(
        &glue_path,
        inline_link_module(&glue, &link, &fetch, &chunks)?,
    )?;
    // Every visitor downloads the glue too: minified, it is about 3 KB lighter gzipped. Debug
    // builds are minified as well, so the tests run what visitors get.
    run(Command::new(crate::tools::terser())
        .arg(&glue_path)
        .args(["--module", "--compress", "--mangle", "--output"])
        .arg(&glue_path))?;

    // The files the widget fetches on first use: the chime, the emoji table, the languages.
    let assets = root().join("widget");
    std::fs::copy(assets.join("assets/notify.wav"), out.join("notify.wav"))?;
    std::fs::copy(assets.join("assets/emoji.json"), out.join("emoji.json"))?;
    let locales = out.join("locales");
    std::fs::create_dir_all(&locales)?;
    for entry in std::fs::read_dir(assets.join("locales"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), locales.join(entry.file_name()))?;
    }
    Ok(())
}

/// How many functions wasm-streams exports: its three classes' methods and destructors.
const STREAM_EXPORTS: usize = 13;

/// Leptos always builds in the browser client of its server functions, and with it wasm-streams,
/// whose `#[wasm_bindgen]` classes (`IntoUnderlyingSink`, `IntoUnderlyingSource`,
/// `IntoUnderlyingByteSource`) are exports of every Leptos module: nothing could remove their
/// code, about 10 KB before gzip. The widget calls no server function and never makes one of
/// those classes, so their exports are dropped from `module` and `wasm-opt` removes the code.
/// Their JavaScript classes stay in the glue, unused (they call into the module only when used).
/// Returns how many exports were dropped.
fn drop_stream_exports(module: &Path) -> anyhow::Result<usize> {
    use wasm_encoder::reencode::{utils, Error, Reencode};

    struct Dropping(usize);
    impl Reencode for Dropping {
        type Error = std::convert::Infallible;

        fn parse_export(
            &mut self,
            exports: &mut wasm_encoder::ExportSection,
            export: wasmparser::Export<'_>,
        ) -> Result<(), Error<Self::Error>> {
            let class_method = export.name.starts_with("intounderlying");
            let destructor = export.name.starts_with("__wbg_intounderlying");
            if class_method || destructor {
                self.0 += 1;
                return Ok(());
            }
            utils::parse_export(self, exports, export)
        }
    }

    let input = std::fs::read(module)?;
    let mut output = wasm_encoder::Module::new();
    let mut dropping = Dropping(0);
    dropping
        .parse_core_module(&mut output, wasmparser::Parser::new(0), &input)
        .map_err(|e| anyhow::anyhow!("rewriting {}: {e:?}", module.display()))?;
    std::fs::write(module, output.finish())?;
    Ok(dropping.0)
}

/// The module the glue's imports come from, as wasm-bindgen names it.
const GLUE_MODULE: &str = "./widget_bg.js";

/// What the glue's imports are called instead: one letter for the module, `$` and a base-36 number
/// for each function.
const SHORT_GLUE_MODULE: &str = "a";

/// Gives each of `module`'s imports from the glue a short name. wasm-bindgen names them after
/// the Rust function and a 16-digit hash (`__wbg_instanceof_Object_97e16a01fd368661`), two
/// hundred and more of them, written once in the module's import section and once in the glue's
/// import object; the hashes do not compress, so the names cost about 6 KB of the gzipped first
/// load. Returns each old name with its new one, for [`rename_glue_imports`].
fn shorten_glue_imports(module: &Path) -> anyhow::Result<Vec<(String, String)>> {
    use wasm_encoder::reencode::{utils, Error, Reencode};

    struct Shortening(Vec<(String, String)>);
    impl Reencode for Shortening {
        type Error = String;

        fn parse_imports(
            &mut self,
            section: &mut wasm_encoder::ImportSection,
            imports: wasmparser::Imports<'_>,
        ) -> Result<(), Error<Self::Error>> {
            let wasmparser::Imports::Single(_, import) = imports else {
                // wasm-bindgen writes one entry per import; a grouped form would be new to it.
                return Err(Error::UserError("grouped imports".into()));
            };
            if import.module != GLUE_MODULE {
                return utils::parse_imports(self, section, imports);
            }
            let short = format!("${}", base36(self.0.len()));
            section.import(SHORT_GLUE_MODULE, &short, self.entity_type(import.ty)?);
            self.0.push((import.name.to_owned(), short));
            Ok(())
        }
    }

    let input = std::fs::read(module)?;
    let mut output = wasm_encoder::Module::new();
    let mut shortening = Shortening(Vec::new());
    shortening
        .parse_core_module(&mut output, wasmparser::Parser::new(0), &input)
        .map_err(|e| anyhow::anyhow!("renaming the imports of {}: {e}", module.display()))?;
    std::fs::write(module, output.finish())?;
    Ok(shortening.0)
}

fn base36(mut n: usize) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// `glue` with the import object's names as [`shorten_glue_imports`] renamed them in the module.
/// Each old name must stand exactly once in the glue, as a whole name (its key in the import
/// object), and the module's key once: a glue of another shape fails the build rather than a
/// visitor's page.
fn rename_glue_imports(glue: &str, renamed: &[(String, String)]) -> anyhow::Result<String> {
    let module_key = format!("\"{GLUE_MODULE}\":");
    anyhow::ensure!(
        glue.matches(&module_key).count() == 1,
        "the glue names {GLUE_MODULE} other than once as its import object's key"
    );
    let mut glue = glue.replacen(&module_key, &format!("{SHORT_GLUE_MODULE}:"), 1);
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    for (old, new) in renamed {
        let found: Vec<usize> = glue
            .match_indices(old.as_str())
            .map(|(at, _)| at)
            .filter(|&at| {
                let before = glue[..at].chars().next_back();
                let after = glue[at + old.len()..].chars().next();
                !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
            })
            .collect();
        anyhow::ensure!(
            found.len() == 1,
            "the glue names the import {old} {} times, not once",
            found.len()
        );
        glue.replace_range(found[0]..found[0] + old.len(), new);
    }
    Ok(glue)
}

fn wasm_opt(file: &Path, extra: &[&str]) -> anyhow::Result<()> {
    run(Command::new("wasm-opt")
        .env("PATH", path_with_tools())
        .arg(file)
        .arg("-o")
        .arg(file)
        .args(["-Oz", "--converge", "--strip-producers"])
        .args(extra))
}

/// `glue` (wasm-bindgen's `widget.js`) with its import of the chunk loader replaced by the chunk
/// loader itself: `link` without its import of `widget.js` (it is inside it now) and its exports
/// bound to the name the glue imported it as, fetching each chunk (`chunks`: the splitter's file
/// name, the served one) through `fetch`'s `livechatChunk`.
fn inline_link_module(
    glue: &str,
    link: &str,
    fetch: &str,
    chunks: &[(String, String)],
) -> anyhow::Result<String> {
    let import_line = glue
        .lines()
        .find(|line| line.starts_with("import * as ") && line.contains(LINK_MODULE))
        .ok_or_else(|| anyhow::anyhow!("widget.js does not import {LINK_MODULE}"))?;
    let bound = import_line
        .trim_start_matches("import * as ")
        .split_whitespace()
        .next()
        .unwrap_or_default();
    let mut code = String::new();
    let mut exported = Vec::new();
    let mut saw_main_import = false;
    for line in link.lines() {
        if line.starts_with("import ") && line.contains("\"./widget.js\"") {
            saw_main_import = true;
            continue;
        }
        match line.strip_prefix("export const ") {
            Some(rest) => {
                let name = rest.split([' ', '=']).next().unwrap_or_default();
                exported.push(name.to_owned());
                code.push_str("const ");
                code.push_str(rest);
            }
            None => code.push_str(line),
        }
        code.push('\n');
    }
    anyhow::ensure!(
        saw_main_import,
        "the chunk loader no longer imports widget.js as expected"
    );
    for (file, served) in chunks {
        let relative = format!("fetch(new URL(\"./{file}\", import.meta.url))");
        anyhow::ensure!(
            code.contains(&relative),
            "the chunk loader does not fetch {file} as expected"
        );
        code = code.replace(&relative, &format!("livechatChunk(\"{served}\")"));
    }
    anyhow::ensure!(
        !code.contains("import.meta.url"),
        "the chunk loader fetches something else beside widget.js"
    );
    let inlined = format!(
        "{fetch}\n{code}\nconst {bound} = {{ {} }};",
        exported.join(", ")
    );
    Ok(glue.replacen(import_line, &inlined, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `module` to a file of its own, runs `step` on it as the build does, and returns what
    /// `step` returned with the module it left, checked to be valid.
    fn rewrite<T>(
        name: &str,
        module: wasm_encoder::Module,
        step: impl FnOnce(&Path) -> T,
    ) -> (T, Vec<u8>) {
        let path = std::env::temp_dir().join(format!("xtask-{name}-{}.wasm", std::process::id()));
        std::fs::write(&path, module.finish()).unwrap();
        let result = step(&path);
        let rewritten = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        wasmparser::Validator::new()
            .validate_all(&rewritten)
            .unwrap();
        (result, rewritten)
    }

    #[test]
    fn only_the_stream_classes_exports_are_dropped() {
        use wasm_encoder::{
            CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, Module,
            TypeSection,
        };
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut functions = FunctionSection::new();
        functions.function(0);
        module.section(&functions);
        let mut exports = ExportSection::new();
        for name in [
            "main",
            "intounderlyingsink_write",
            "__wbg_intounderlyingsource_free",
        ] {
            exports.export(name, ExportKind::Func, 0);
        }
        module.section(&exports);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instruction(&Instruction::End);
        code.function(&body);
        module.section(&code);
        let (dropped, rewritten) = rewrite("exports", module, drop_stream_exports);
        assert_eq!(dropped.unwrap(), 2);
        let mut names = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&rewritten) {
            if let wasmparser::Payload::ExportSection(section) = payload.unwrap() {
                for export in section {
                    names.push(export.unwrap().name.to_owned());
                }
            }
        }
        assert_eq!(names, ["main"]);
    }

    #[test]
    fn the_glues_imports_get_short_names_in_the_module_and_the_glue_alike() {
        use wasm_encoder::{EntityType, ImportSection, Module, TypeSection};
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut imports = ImportSection::new();
        imports.import(
            GLUE_MODULE,
            "__wbg_log_0123456789abcdef",
            EntityType::Function(0),
        );
        imports.import(
            LINK_MODULE,
            "__wasm_split_load_extras",
            EntityType::Function(0),
        );
        imports.import(
            GLUE_MODULE,
            "__wbindgen_init_externref_table",
            EntityType::Function(0),
        );
        module.section(&imports);
        let (renamed, rewritten) = rewrite("imports", module, shorten_glue_imports);
        let renamed = renamed.unwrap();
        let mut names = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&rewritten) {
            if let wasmparser::Payload::ImportSection(section) = payload.unwrap() {
                for import in section.into_imports() {
                    let import = import.unwrap();
                    names.push(format!("{}.{}", import.module, import.name));
                }
            }
        }
        // The chunk loader's import keeps its name: the split's own code looks for it.
        assert_eq!(
            names,
            ["a.$0", "./__wasm_split.js.__wasm_split_load_extras", "a.$1"]
        );

        let glue =
            "const imports = { __wbg_log_0123456789abcdef: function(a) { console.log(a) },\n\
                    __wbindgen_init_externref_table: function() {} };\n\
                    return { \"./widget_bg.js\": imports, \"./__wasm_split.js\": split };";
        assert_eq!(
            rename_glue_imports(glue, &renamed).unwrap(),
            "const imports = { $0: function(a) { console.log(a) },\n\
             $1: function() {} };\n\
             return { a: imports, \"./__wasm_split.js\": split };"
        );
        // A name the glue uses twice, or not at all, stops the build.
        let twice = glue.replace("console.log(a)", "__wbg_log_0123456789abcdef(a)");
        assert!(rename_glue_imports(&twice, &renamed).is_err());
        let without = glue.replace("__wbindgen_init_externref_table", "init");
        assert!(rename_glue_imports(&without, &renamed).is_err());
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn the_chunk_loader_is_inlined_and_fetches_through_the_failover() {
        let glue =
            "import * as __wbg_star0 from './__wasm_split.js';\nlet wasm;\nexport { initSync };\n";
        let link = "import { initSync } from \"./widget.js\";\n\
                    const __chunk_0 = makeLoad(() => {\n    const src = fetch(new URL(\"./chunk_0_extras.wasm\", import.meta.url));\n}, []);\n\
                    export const __wasm_split_load_extras = wrapAsyncCb(__chunk_0);\n";
        let chunks = [(
            "chunk_0_extras.wasm".to_owned(),
            "chunk_0_extras.0123.wasm".to_owned(),
        )];
        let inlined =
            inline_link_module(glue, link, "function livechatChunk(name) {}", &chunks).unwrap();
        assert!(!inlined.contains("import "), "{inlined}");
        assert!(inlined.contains("livechatChunk(\"chunk_0_extras.0123.wasm\")"));
        assert!(inlined.contains("const __wbg_star0 = { __wasm_split_load_extras };"));
        assert!(inlined.contains("const __wasm_split_load_extras = wrapAsyncCb"));
        assert!(inlined.ends_with("let wasm;\nexport { initSync };\n"));
    }

    #[test]
    fn a_changed_chunk_loader_fails_the_build_instead_of_fetching_beside_the_module() {
        let glue = "import * as __wbg_star0 from './__wasm_split.js';\n";
        let link =
            "import { initSync } from \"./widget.js\";\nconst src = fetch(\"./chunk_0.wasm\");\n";
        let chunks = [("chunk_0.wasm".to_owned(), "chunk_0.1.wasm".to_owned())];
        assert!(inline_link_module(glue, link, "", &chunks).is_err());
        assert!(inline_link_module("let wasm;\n", link, "", &[]).is_err());
    }
}
