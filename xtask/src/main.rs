//! `cargo xtask`: the project's automation, in Rust instead of shell scripts.
//!
//! - `cargo xtask demo [--port N]`: installs what is missing, builds the widget and the console,
//!   starts a deployment with a demo site and a demo admin, and serves the demo page.
//! - `cargo xtask test`: the same set-up plus Chromium, the lint gate (`cargo fmt --check`, clippy
//!   with `-D warnings` natively and for wasm32), then every test (unit, integration, tidy,
//!   browser end-to-end).
//! - `cargo xtask site [--release]`: only builds the static site into `target/site`.
//! - `cargo xtask dist`: release builds of `server` (the site built into it) and `moderator`,
//!   and a check that the server binary, alone in an empty directory with an empty
//!   environment, runs a deployment.
//! - `cargo xtask chaos [--seed S] [--minutes M]`: the fault-injection suite at length (see
//!   `docs/reliability.md`); a short seeded run of it is part of `cargo xtask test`.
//! - `cargo xtask fuzz [--seconds N]`: the fuzz targets in `fuzz/` (client frames, replication
//!   batches, health reports), N seconds each (60 by default), with cargo-fuzz on the nightly
//!   toolchain; what they find joins the corpus, minimised, which every `cargo xtask test`
//!   replays.
//! - `cargo xtask bench [--quick]`: release builds of everything, then the benchmarks and the
//!   criterion micro-benchmarks (see `bench/` and `docs/benchmarks.md`); `--quick` takes about
//!   three minutes once built.

mod demo;
mod dist;
mod site;
mod tools;
mod widget;

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    match args.first().map(String::as_str) {
        Some("demo") => demo::run(number_after(&args, "--port")?.unwrap_or(8080)),
        Some("test") => test(),
        Some("bench") => bench(flag("--quick")),
        Some("chaos") => chaos(&args[1..]),
        Some("fuzz") => fuzz(number_after(&args, "--seconds")?.unwrap_or(60)),
        Some("dist") => dist::run_dist(),
        Some("site") => {
            tools::ensure_wasm_tools()?;
            site::build(flag("--release"))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <demo [--port N] | test | site [--release] | dist | bench [--quick] | chaos [--seed S] [--minutes M] | fuzz [--seconds N]>"
            );
            std::process::exit(2);
        }
    }
}

/// The number after `flag` in `args`, if the flag is there.
fn number_after<T: std::str::FromStr>(args: &[String], flag: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    Ok(args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(|value| value.parse())
        .transpose()?)
}

/// What browser runs need: the WebAssembly tools, Chromium, and the site the deployments serve,
/// in debug builds (tests check behaviour, not size or speed, and debug builds are faster).
fn browser_setup() -> anyhow::Result<()> {
    tools::ensure_wasm_tools()?;
    tools::ensure_chromium()?;
    site::build(false)
}

/// The lint gate: formatting, then clippy with warnings as errors, natively for the native crates
/// and for `wasm32-unknown-unknown` for the browser crates (their code behind `cfg` differs).
fn lint() -> anyhow::Result<()> {
    step("Checking formatting (cargo fmt --check)");
    run(cargo().args(["fmt", "--all", "--check"]))?;
    step("Linting the native crates (clippy, warnings are errors)");
    let mut native = cargo();
    native.args(["clippy", "--workspace", "--all-targets"]);
    for browser_crate in BROWSER_CRATES {
        native.args(["--exclude", browser_crate]);
    }
    run(native.args(["--", "-D", "warnings"]))?;
    step("Linting the browser crates for wasm32 (clippy, warnings are errors)");
    let mut wasm = cargo();
    wasm.args([
        "clippy",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
    ]);
    for browser_crate in BROWSER_CRATES {
        wasm.args(["-p", browser_crate]);
    }
    run(wasm.args(["--", "-D", "warnings"]))
}

/// The crates compiled to WebAssembly only.
const BROWSER_CRATES: [&str; 3] = ["browser", "widget", "console"];

/// Every test: set-up, the lint gate, then the site the browser tests load, then `cargo test`
/// (which includes the tidy tests in `xtask/tests/tidy.rs`).
fn test() -> anyhow::Result<()> {
    browser_setup()?;
    // The mail tests send to a real SMTP server; the accessibility tests run axe-core.
    tools::ensure_aiosmtpd()?;
    tools::ensure_axe_core()?;
    // The OpenAPI test fuzzes a real deployment with schemathesis.
    tools::ensure_schemathesis()?;
    lint()?;
    step("Building the binaries the tests run");
    run(cargo().args([
        "build",
        "--bin",
        "server",
        "--bin",
        "moderator",
        "--bin",
        "livechat-client",
    ]))?;
    step("Running every test");
    // The default members are every crate with native tests (the WebAssembly apps are built above
    // by Trunk). Building the `server` and `moderator` packages' tests also builds the binaries
    // that the process and browser tests start, before any test runs.
    run(cargo()
        .args(["test", "--no-fail-fast"])
        .env("LIVECHAT_SERVER_BIN", target_dir().join("debug/server"))
        .env(
            "LIVECHAT_MODERATOR_BIN",
            target_dir().join("debug/moderator"),
        )
        .env("LIVECHAT_SITE_DIR", target_dir().join("site"))
        .env("LIVECHAT_AXE_SCRIPT", tools::axe_script()))?;
    step("Running each micro-benchmark once, so none of them rots");
    run(cargo().args(["test", "-p", "bench", "--benches"]))?;
    step("All tests passed");
    Ok(())
}

/// The fault-injection suite at length: builds the binaries it starts, then runs `chaos` from
/// the `tests` package with the arguments given (`--seed S --minutes M`, see
/// docs/reliability.md). It stops by itself and fails when anything was lost.
/// The fuzz targets, each for `seconds`, then the corpus minimised in place.
fn fuzz(seconds: u64) -> anyhow::Result<()> {
    const TARGETS: [&str; 3] = ["client_frame", "replication_batch", "health_report"];
    // `cargo +nightly` needs rustup's proxy, not the stable cargo running this xtask.
    let nightly = || {
        let mut command = Command::new("cargo");
        command
            .arg("+nightly")
            .current_dir(root())
            .env_remove("CARGO_TARGET_DIR");
        command
    };
    step("Installing what fuzzing needs (the nightly toolchain, cargo-fuzz) if missing");
    let have = |command: &mut Command| command.output().is_ok_and(|o| o.status.success());
    if !have(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    if !have(nightly().args(["fuzz", "--version"])) {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    for target in TARGETS {
        step(&format!("Fuzzing {target} for {seconds} s"));
        // No sanitizer: the code under test has no `unsafe` (the workspace denies it), so a
        // panic is what there is to find, and runs go several times faster without one.
        run(nightly()
            .args(["fuzz", "run", "--sanitizer", "none", target, "--"])
            .args([
                format!("-max_total_time={seconds}"),
                "-rss_limit_mb=2048".into(),
                "-max_len=65536".into(),
            ]))?;
        step(&format!("Minimising the {target} corpus"));
        run(nightly().args(["fuzz", "cmin", "--sanitizer", "none", target]))?;
    }
    Ok(())
}

fn chaos(args: &[String]) -> anyhow::Result<()> {
    let browsers = args
        .iter()
        .position(|a| a == "--browsers")
        .and_then(|i| args.get(i + 1))
        .is_none_or(|n| n != "0");
    if browsers {
        // The long run has real widgets too: the site the deployments serve, and Chromium.
        browser_setup()?;
    }
    step("Building the server, the moderator and the fault-injection suite");
    run(cargo().args([
        "build",
        "-p",
        "server",
        "-p",
        "moderator",
        "-p",
        "tests",
        "--bins",
    ]))?;
    step("Running the fault-injection suite");
    run(Command::new(target_dir().join("debug/chaos"))
        .args(args)
        .current_dir(root())
        .env("LIVECHAT_SERVER_BIN", target_dir().join("debug/server"))
        .env(
            "LIVECHAT_MODERATOR_BIN",
            target_dir().join("debug/moderator"),
        )
        .env("LIVECHAT_SITE_DIR", target_dir().join("site")))
}

/// The benchmarks: the release site (its weight is a figure), the binaries built for speed
/// (`bench-native`), then the bench itself with as many open files as the system allows (idle
/// connections are file descriptors, in the bench and in the server).
fn bench(quick: bool) -> anyhow::Result<()> {
    tools::ensure_wasm_tools()?;
    tools::ensure_nginx();
    site::build(true)?;
    step("Building the server, the moderator and the bench (bench-native profile)");
    run(cargo().args([
        "build",
        "--profile",
        "bench-native",
        "--bin",
        "server",
        "--bin",
        "moderator",
        "--bin",
        "bench",
    ]))?;
    step("Running the benchmarks");
    let binaries = target_dir().join("bench-native");
    let bench = binaries.join("bench");
    let script = format!(
        "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"{}\" {}",
        bench.display(),
        if quick { "--quick" } else { "" }
    );
    run(Command::new("sh")
        .args(["-c", &script])
        .current_dir(root())
        .env("LIVECHAT_SERVER_BIN", binaries.join("server"))
        .env("LIVECHAT_MODERATOR_BIN", binaries.join("moderator"))
        .env("LIVECHAT_SITE_DIR", target_dir().join("site")))?;
    step("Running the micro-benchmarks of the hot paths (criterion)");
    let mut micro = cargo();
    micro.args(["bench", "-p", "bench", "--bench", "hot_paths"]);
    if quick {
        micro.args(["--", "--warm-up-time", "1", "--measurement-time", "2"]);
    }
    run(&mut micro)
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// The shared `target/` directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// `cargo` from the toolchain running this xtask, in the repository root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs a command to completion, failing with its name if it fails.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run {command:?}: {e}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}

/// Prints a progress line.
pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}
