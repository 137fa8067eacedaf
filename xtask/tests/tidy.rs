//! Tidy checks of the whole repository, written as tests so `cargo xtask test` (and CI) enforces
//! them: every source file says what it is for, production files stay small, wire frames live only
//! in `protocol`, the `data-testid` contract in `docs/testing.md` matches the apps, and the
//! server's modules form layers without an import cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a production source file may be, in lines.
const MAX_PRODUCTION_LINES: usize = 600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Every file under `dir` whose name ends with `suffix`, skipping build output and dependencies.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | ".git" | "dist") {
                    pending.push(path);
                }
            } else if name.ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Production code: every crate's `src/`, except the test-support crate `tests/` and test modules
/// kept in files of their own (`tests.rs`).
fn production_files() -> Vec<PathBuf> {
    files(&root(), ".rs")
        .into_iter()
        .filter(|p| {
            let rel = relative(p);
            rel.contains("/src/")
                && !rel.starts_with("tests/")
                && p.file_name().is_some_and(|n| n != "tests.rs")
        })
        .collect()
}

#[test]
fn every_source_file_opens_with_a_doc_line() {
    let missing: Vec<String> = files(&root(), ".rs")
        .into_iter()
        .filter(|p| !read(p).starts_with("//!"))
        .map(|p| relative(&p))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for: {missing:#?}"
    );
}

#[test]
fn no_production_source_file_is_over_600_lines() {
    let long: Vec<String> = production_files()
        .into_iter()
        .filter_map(|p| {
            let lines = read(&p).lines().count();
            (lines > MAX_PRODUCTION_LINES).then(|| format!("{} ({lines} lines)", relative(&p)))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concept (at most {MAX_PRODUCTION_LINES} lines): {long:#?}"
    );
}

#[test]
fn wire_frames_are_defined_only_in_protocol() {
    let mut offenders = Vec::new();
    for path in files(&root(), ".rs") {
        let rel = relative(&path);
        if rel.starts_with("protocol/") || rel.starts_with("xtask/tests/") {
            continue;
        }
        let text = strip_comments_and_strings(&read(&path));
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            if matches!(pair[0], "struct" | "enum") && pair[1].ends_with("Frame") {
                offenders.push(format!("{rel}: {} {}", pair[0], pair[1]));
            }
        }
        // A serde enum tagged by `type` is what a frame looks like on the wire.
        if read(&path).contains("tag = \"type\"") {
            offenders.push(format!("{rel}: a tagged serde type"));
        }
    }
    assert!(
        offenders.is_empty(),
        "frames belong in the protocol crate: {offenders:#?}"
    );
}

/// The `data-testid` values the widget, the console, the loader and the moderator's status page
/// render.
fn testids_in_sources() -> BTreeSet<String> {
    let mut sources = files(&root().join("widget/src"), ".rs");
    sources.extend(files(&root().join("console/src"), ".rs"));
    sources.extend(files(&root().join("moderator/src"), ".rs"));
    sources.push(root().join("www/loader.js"));
    let mut ids = BTreeSet::new();
    for path in sources {
        let text = read(&path);
        // `testid="…"` is the prop of components that render the hook themselves (the
        // console's error lines); `data-testid=\"…\"` is HTML written in a Rust string (the
        // moderator's page); `.testid("…")` an element the widget draws with the DOM
        // (`widget/src/dom.rs`).
        for (marker, end_mark) in [
            ("data-testid=\"", '"'),
            ("set_attribute(\"data-testid\", \"", '"'),
            (".testid(\"", '"'),
            ("testid=\"", '"'),
            ("data-testid=\\\"", '\\'),
        ] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                if let Some(end) = rest.find(end_mark) {
                    ids.insert(rest[..end].to_owned());
                }
            }
        }
    }
    ids
}

/// The hooks listed in the tables of `docs/testing.md`'s "Automation hooks" section (the first
/// column's backticked names).
fn testids_in_docs() -> BTreeSet<String> {
    let text = read(&root().join("docs/testing.md"));
    let section = text
        .split("## Automation hooks")
        .nth(1)
        .expect("docs/testing.md has an Automation hooks section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut ids = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).unwrap_or_default();
        for (i, name) in first_cell.split('`').enumerate() {
            if i % 2 == 1 {
                ids.insert(name.to_owned());
            }
        }
    }
    ids
}

#[test]
fn every_data_testid_is_documented_and_every_documented_one_exists() {
    let (sources, docs) = (testids_in_sources(), testids_in_docs());
    assert!(!sources.is_empty(), "no data-testid found in the apps");
    let undocumented: Vec<_> = sources.difference(&docs).collect();
    let missing: Vec<_> = docs.difference(&sources).collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "docs/testing.md and the apps disagree: rendered but not documented {undocumented:?}, \
         documented but not rendered {missing:?}"
    );
}

/// Source text with comments, string literals and character literals blanked out, so that paths
/// mentioned in documentation or messages do not count as dependencies.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && is_raw_start(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            i += 2 + hashes;
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let rest: String = chars[i..].iter().collect();
            i += rest
                .find(&closing)
                .map_or(rest.len(), |e| e + closing.len());
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && is_char_literal(&chars, i) {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `text` without its inline `#[cfg(test)] mod … { … }` blocks: tests are not part of the
/// layering, and their `super` is the module they test.
fn without_test_modules(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let is_inline_module = after["#[cfg(test)]".len()..]
            .trim_start()
            .strip_prefix("mod ")
            .and_then(|m| m.find(['{', ';']).map(|i| &m[i..]))
            .is_some_and(|m| m.starts_with('{'));
        if !is_inline_module {
            out.push_str("#[cfg(test)]");
            rest = &after["#[cfg(test)]".len()..];
            continue;
        }
        let open = after.find('{').expect("checked above");
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Whether `r` at `i` starts a raw string (`r"…"`, `r#"…"#`) rather than ending an identifier.
fn is_raw_start(chars: &[char], i: usize) -> bool {
    let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
    !after_ident && chars.get(i + 1 + hashes) == Some(&'"')
}

/// Whether `'` at `i` opens a character literal (`'a'`, `'\n'`) rather than a lifetime (`'a`).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// The modules of a crate's `src/` directory, as paths (`store::writer`), mapped to their files.
/// The crate root (`lib.rs`) is `crate`; binaries (`main.rs`) are not part of the library.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut modules = BTreeMap::new();
    for path in files(src, ".rs") {
        let rel = path.strip_prefix(src).expect("under src");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
            .collect();
        if parts == ["main"] || parts.first().is_some_and(|p| p == "bin") {
            continue;
        }
        if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
            parts.pop();
        }
        let name = if parts.is_empty() {
            "crate".to_owned()
        } else {
            parts.join("::")
        };
        modules.insert(name, path);
    }
    modules
}

/// Splits `a::b::{c, d::e}` after its prefix into the paths it names: `[[c], [d, e]]`.
fn expand_group(group: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    let bytes: Vec<char> = group.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(bytes[start..i].iter().collect::<String>());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(bytes[start..].iter().collect::<String>());
    let mut paths = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if let Some(open) = item.find('{') {
            let prefix: Vec<String> = split_path(&item[..open]);
            let inner = &item[open + 1..item.rfind('}').unwrap_or(item.len())];
            for rest in expand_group(inner) {
                paths.push(prefix.iter().cloned().chain(rest).collect());
            }
        } else {
            let item = item.split(" as ").next().unwrap_or(item);
            paths.push(split_path(item));
        }
    }
    paths
}

fn split_path(text: &str) -> Vec<String> {
    text.split("::")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every path in `text` that starts with `crate`, `super`, `self` or one of `children`, with
/// `use` groups expanded.
fn paths_in(text: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && is_ident(chars[end]) {
            end += 1;
        }
        let first: String = chars[i..end].iter().collect();
        let starts_path =
            matches!(first.as_str(), "crate" | "super" | "self") || children.contains(&first);
        if !starts_path || chars.get(end) != Some(&':') || chars.get(end + 1) != Some(&':') {
            i = end;
            continue;
        }
        // Read `seg::seg::…`, stopping at anything else; a trailing `::{` opens a group.
        let mut segments = vec![first];
        let mut j = end;
        while chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
            j += 2;
            while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                j += 1;
            }
            if chars.get(j) == Some(&'{') {
                let mut depth = 0;
                let start = j + 1;
                while j < chars.len() {
                    if chars[j] == '{' {
                        depth += 1;
                    } else if chars[j] == '}' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                let group: String = chars[start..j.min(chars.len())].iter().collect();
                for rest in expand_group(&group) {
                    paths.push(segments.iter().cloned().chain(rest).collect());
                }
                segments.clear();
                break;
            }
            let seg_start = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            if j == seg_start {
                break;
            }
            segments.push(chars[seg_start..j].iter().collect());
        }
        if !segments.is_empty() {
            paths.push(segments);
        }
        i = j.max(end);
    }
    paths
}

/// The module a path from `module` resolves to: the longest prefix that is a module. `None` for
/// paths into other crates.
fn resolve(module: &str, path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut current: Vec<String> = if module == "crate" {
        Vec::new()
    } else {
        split_path(module)
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            current.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                current.pop();
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    let name = |parts: &[String]| {
        if parts.is_empty() {
            "crate".to_owned()
        } else {
            parts.join("::")
        }
    };
    for segment in rest {
        let mut longer = current.clone();
        longer.push(segment.clone());
        if modules.contains_key(&name(&longer)) {
            current = longer;
        } else {
            break;
        }
    }
    Some(name(&current))
}

/// Which modules each module of the crate in `src` refers to. A module naming one of its own
/// ancestors (`super::Thing`, `crate::store::Thing` from inside `store`) is not a dependency
/// edge: a parent and its children are one unit. The crate root is the exception: a module that
/// reaches back up to `lib.rs` for something depends on it.
fn dependency_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let prefix = if module == "crate" {
            String::new()
        } else {
            format!("{module}::")
        };
        let children: BTreeSet<String> = modules
            .keys()
            .filter_map(|m| m.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains("::") && *rest != "crate")
            .map(str::to_owned)
            .collect();
        let text = without_test_modules(&strip_comments_and_strings(&read(path)));
        let mut targets = BTreeSet::new();
        for reference in paths_in(&text, &children) {
            let Some(target) = resolve(module, &reference, &modules) else {
                continue;
            };
            let is_ancestor = target != "crate"
                && (module.starts_with(&format!("{target}::")) || *module == target);
            if target != *module && !is_ancestor {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Visiting);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_servers_modules_have_no_import_cycle() {
    let graph = dependency_graph(&root().join("server/src"));
    assert!(graph.len() > 10, "the server's modules were not found");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in server/src: {}", cycle.join(" -> "));
    }
}

/// A throwaway crate layout, to show the detector finds what it must.
fn scratch_crate(files: &[(&str, &str)]) -> tempfile_free::Dir {
    let dir = tempfile_free::Dir::new();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn the_cycle_detector_finds_a_deliberate_cycle() {
    let layered = scratch_crate(&[
        ("lib.rs", "//! root\npub mod a;\npub mod b;\npub fn app() { a::run(); }\n"),
        ("a.rs", "//! a\nuse crate::b::Thing;\npub fn run() {}\n"),
        ("b.rs", "//! b\n/// Not [`crate::a`] in a comment.\npub struct Thing;\nconst S: &str = \"crate::a::run\";\n"),
    ]);
    assert_eq!(find_cycle(&dependency_graph(layered.path())), None);

    let cyclic = scratch_crate(&[
        ("lib.rs", "//! root\npub mod a;\npub mod b;\n"),
        (
            "a.rs",
            "//! a\nuse crate::b::{self, Thing};\npub fn run() {}\n",
        ),
        (
            "b/mod.rs",
            "//! b\nmod inner;\npub use inner::f;\npub struct Thing;\n",
        ),
        (
            "b/inner.rs",
            "//! inner\npub fn f() { crate::a::run(); let _ = super::Thing; }\n",
        ),
    ]);
    let cycle = find_cycle(&dependency_graph(cyclic.path())).expect("a -> b -> b::inner -> a");
    assert!(cycle.contains(&"b::inner".to_owned()), "{cycle:?}");
    assert!(cycle.contains(&"a".to_owned()), "{cycle:?}");

    let reaching_up = scratch_crate(&[
        (
            "lib.rs",
            "//! root\npub mod a;\npub struct State;\npub fn app() { a::run(); }\n",
        ),
        ("a.rs", "//! a\npub fn run() { let _ = crate::State; }\n"),
    ]);
    assert!(find_cycle(&dependency_graph(reaching_up.path())).is_some());
}

/// A temporary directory without a dependency: removed on drop.
mod tempfile_free {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    /// A fresh directory under the system's temporary directory.
    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("livechat-tidy-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("create a scratch directory");
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The `{name}` values a text fills in.
fn placeholders(text: &str) -> BTreeSet<String> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// A catalogue's texts by key, and the lines that are neither a text nor a comment.
fn catalogue(path: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    let mut texts = BTreeMap::new();
    let mut bad = Vec::new();
    for line in read(path).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(" = ") {
            Some((key, text)) => {
                texts.insert(key.trim().to_owned(), text.trim().to_owned());
            }
            None => bad.push(line.to_owned()),
        }
    }
    (texts, bad)
}

/// The widget's texts: English holds every key the code uses; each other language the site
/// owner can choose has a file, and this lists what it lacks (shown in English meanwhile), what
/// it has that English does not (a stale key), a line that is not `key = text`, and a text that
/// fills in other values than English's.
#[test]
fn every_language_of_the_widget_has_every_text() {
    let dir = root().join("widget/locales");
    let (english, bad) = catalogue(&dir.join("en.txt"));
    assert!(
        bad.is_empty(),
        "en.txt: lines that are not `key = text`: {bad:?}"
    );
    let languages = read(&root().join("protocol/src/admin.rs"));
    let list = languages
        .split("pub const LANGUAGES")
        .nth(1)
        .and_then(|rest| rest.split_once("= [")?.1.split_once(']'))
        .map(|(list, _)| list.to_owned())
        .expect("protocol::admin::LANGUAGES");
    let mut problems = Vec::new();
    for language in list.split(',').map(|l| l.trim().trim_matches('"')) {
        if language.is_empty() || language == "en" {
            continue;
        }
        let path = dir.join(format!("{language}.txt"));
        if !path.exists() {
            problems.push(format!("{language}.txt is missing"));
            continue;
        }
        let (texts, bad) = catalogue(&path);
        for line in bad {
            problems.push(format!("{language}.txt: not `key = text`: {line}"));
        }
        for (key, text) in &english {
            match texts.get(key) {
                None => problems.push(format!("{language}.txt lacks `{key}` ({text})")),
                Some(translated) if placeholders(translated) != placeholders(text) => problems
                    .push(format!(
                        "{language}.txt: `{key}` fills in {:?}, English {:?}",
                        placeholders(translated),
                        placeholders(text)
                    )),
                Some(_) => {}
            }
        }
        for key in texts.keys().filter(|k| !english.contains_key(*k)) {
            problems.push(format!(
                "{language}.txt has `{key}`, which English does not"
            ));
        }
    }
    // Every key the widget asks for is in English (else it would show the bare key).
    for key in asked_for(&root().join("widget/src")) {
        if !english.contains_key(&key) {
            problems.push(format!("the widget asks for `{key}`, which en.txt lacks"));
        }
    }
    assert!(
        problems.is_empty(),
        "translations:\n{}",
        problems.join("\n")
    );
}

/// The catalogue keys the code under `dir` asks for with `t("…")` or `t_with("…", …)`.
fn asked_for(dir: &Path) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for file in files(dir, ".rs") {
        let text = read(&file);
        for call in ["t(", "t_with("] {
            for (at, _) in text.match_indices(call) {
                // `t(` itself, not the end of `get(` or `set(`.
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                // rustfmt may put the key on the next line.
                let Some(rest) = text[at + call.len()..].trim_start().strip_prefix('"') else {
                    continue;
                };
                if let Some((key, _)) = rest.split_once('"') {
                    used.insert(key.to_owned());
                }
            }
        }
    }
    used
}

/// Where a line of the console's views writes English inline instead of asking the catalogue:
/// a text node (a literal after a tag's `>`, or a line that is only a literal sentence) or a
/// labelling attribute (`aria-label="Close"`). Literals without letters (`"×"`, `" "`) and the
/// snippet's `</head>` are not texts to translate; neither are example values (a URL or an
/// e-mail address).
fn inline_texts(line: &str) -> Vec<String> {
    let code = line.trim();
    if code.starts_with("//") {
        return Vec::new();
    }
    // The line's string literals, each with the code before it (outside any literal).
    let mut literals: Vec<(String, String)> = Vec::new();
    let (mut before, mut current, mut inside, mut escaped) =
        (String::new(), String::new(), false, false);
    for c in line.chars() {
        match (inside, c) {
            (true, '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (true, '"') if !escaped => {
                literals.push((before.clone(), std::mem::take(&mut current)));
                inside = false;
            }
            (true, c) => current.push(c),
            (false, '"') => inside = true,
            (false, c) => before.push(c),
        }
        escaped = false;
    }
    let only_literal = literals.len() == 1 && code.starts_with('"') && code.ends_with('"');
    literals
        .into_iter()
        .filter(|(before, text)| {
            let before = before.trim_end();
            let sentence = text.contains(' ') || text.starts_with(char::is_uppercase);
            // A tag's `>`, not a match arm's `=>`.
            (before.ends_with('>') && !before.ends_with("=>"))
                || ["aria-label=", "placeholder=", "title=", "alt="]
                    .iter()
                    .any(|attribute| before.ends_with(attribute))
                || (only_literal && sentence)
        })
        .map(|(_, text)| text)
        .filter(|text| text.chars().any(char::is_alphabetic))
        .filter(|text| *text != "</head>" && !text.starts_with("https://") && !text.contains('@'))
        .collect()
}

/// The console's texts come from `console/locales/en.txt` like the widget's from theirs: every
/// key the console asks for is there, every text there is used, every line is `key = text`, and
/// no view writes English inline.
#[test]
fn every_text_of_the_console_is_in_its_catalogue() {
    let (english, bad) = catalogue(&root().join("console/locales/en.txt"));
    let mut problems: Vec<String> = bad
        .into_iter()
        .map(|line| format!("console/locales/en.txt: not `key = text`: {line}"))
        .collect();
    let used = asked_for(&root().join("console/src"));
    for key in used.iter().filter(|k| !english.contains_key(*k)) {
        problems.push(format!("the console asks for `{key}`, which en.txt lacks"));
    }
    for key in english.keys().filter(|k| !used.contains(*k)) {
        problems.push(format!(
            "console/locales/en.txt has `{key}`, which nothing asks for"
        ));
    }
    for file in files(&root().join("console/src"), ".rs") {
        for (n, line) in read(&file).lines().enumerate() {
            for text in inline_texts(line) {
                problems.push(format!(
                    "{}:{}: inline text \"{text}\"",
                    file.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "console texts:\n{}",
        problems.join("\n")
    );
}

/// The inline-text check finds what it must and passes what it may.
#[test]
fn the_inline_text_check_tells_texts_from_values() {
    assert_eq!(inline_texts(r#"<h2>"Saved"</h2>"#), ["Saved"]);
    assert_eq!(
        inline_texts(r#"<button aria-label="Close pane">"×"</button>"#),
        ["Close pane"]
    );
    assert_eq!(
        inline_texts(r#"        "Ask for these first""#),
        ["Ask for these first"]
    );
    assert!(inline_texts(r#"<h2>{t("ui.saved")}</h2>"#).is_empty());
    assert!(inline_texts(r#"<button>"×"</button> " " <code>"</head>"</code>"#).is_empty());
    assert!(inline_texts(r#"<input placeholder="https://shop.example" />"#).is_empty());
    assert!(inline_texts(r#"    // <h2>"Saved"</h2> in a comment"#).is_empty());
    assert!(inline_texts(r#"        "de" => "Deutsch","#).is_empty());
    assert!(inline_texts(r#"        "application/json""#).is_empty());
}

/// The snippet inlines `www/loader.min.js`, made from `www/loader.js` by `cargo xtask` (site,
/// demo, test): it must be made from the loader as it is now, or customers would paste an older
/// loader than the one reviewed here.
#[test]
fn the_minified_loader_is_made_from_the_loader_as_it_is() {
    let source = read(&root().join("www/loader.js"));
    let minified = read(&root().join(xtask::LOADER_MIN));
    assert_eq!(
        minified.lines().next(),
        Some(xtask::loader_min_header(&source).as_str()),
        "www/loader.min.js is stale: run `cargo xtask site` and commit it"
    );
}
