//! Installs the tools the build and the tests need, each only when the right version is missing,
//! so a warm machine skips all of it. Versions are pinned because Trunk cannot download tools on a
//! closed network and checks that what it finds matches `Trunk.toml`.

use crate::{run, step, target_dir};
use std::path::PathBuf;
use std::process::Command;

/// Must equal the `wasm-bindgen` version in Cargo.lock and in `Trunk.toml`.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// The Trunk release known to build with this toolchain.
pub const TRUNK_VERSION: &str = "0.21.14";
/// npm's binaryen package providing `wasm-opt` (Debian's binaryen 108 produces broken output).
pub const BINARYEN_VERSION: &str = "132";

/// Where npm installs binaryen, added to PATH for Trunk.
pub fn node_bin_dir() -> PathBuf {
    target_dir().join("tools/node_modules/.bin")
}

/// PATH with the project's tool folders in front.
pub fn path_with_tools() -> std::ffi::OsString {
    let mut paths = vec![node_bin_dir()];
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        paths.push(home.join("bin"));
    }
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("valid PATH entries")
}

fn version_of(program: &str, arg: &str) -> Option<String> {
    let output = Command::new(program)
        .arg(arg)
        .env("PATH", path_with_tools())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The wasm32 target, wasm-bindgen-cli, Trunk, wasm-opt and terser.
pub fn ensure_wasm_tools() -> anyhow::Result<()> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()?;
    if !String::from_utf8_lossy(&targets.stdout).contains("wasm32-unknown-unknown") {
        step("Installing the wasm32-unknown-unknown target");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    if !version_of("wasm-bindgen", "--version").is_some_and(|v| v.ends_with(WASM_BINDGEN_VERSION)) {
        step(&format!(
            "Installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (about 2 minutes)"
        ));
        // Without --locked: the CLI's own lockfile asks for a crate version the registry lacks.
        run(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
        ]))?;
    }
    if !version_of("trunk", "--version").is_some_and(|v| v.ends_with(TRUNK_VERSION)) {
        step(&format!(
            "Installing Trunk {TRUNK_VERSION} (about 6 minutes on 2 cores)"
        ));
        run(Command::new("cargo").args([
            "install",
            "--locked",
            "trunk",
            "--version",
            TRUNK_VERSION,
        ]))?;
    }
    let wasm_opt = node_bin_dir().join("wasm-opt");
    if !version_of(wasm_opt.to_str().unwrap_or("wasm-opt"), "--version")
        .is_some_and(|v| v.contains(&format!("version {BINARYEN_VERSION}")))
    {
        step(&format!(
            "Installing wasm-opt (npm binaryen@{BINARYEN_VERSION})"
        ));
        npm_install("tools", &format!("binaryen@{BINARYEN_VERSION}")).map_err(|e| {
            anyhow::anyhow!("{e}; wasm-opt comes from npm, so Node.js and npm must be installed")
        })?;
    }
    if !version_of(terser().to_str().unwrap_or("terser"), "--version")
        .is_some_and(|v| v.ends_with(TERSER_VERSION))
    {
        step(&format!("Installing terser {TERSER_VERSION} (npm)"));
        npm_install("tools/terser", &format!("terser@{TERSER_VERSION}"))?;
    }
    Ok(())
}

/// npm's `terser`, which minifies the widget's JavaScript glue (`xtask/src/widget.rs`).
pub const TERSER_VERSION: &str = "5.51.4";

/// Where `terser` is installed (its own prefix, so installing it leaves binaryen alone).
pub fn terser() -> PathBuf {
    target_dir().join("tools/terser/node_modules/.bin/terser")
}

/// Installs an npm `package` (`name@version`) under `target/<prefix>`. Each tool has its own
/// prefix: `--no-save` installs would remove one another's packages from a shared one.
fn npm_install(prefix: &str, package: &str) -> anyhow::Result<()> {
    let prefix = target_dir().join(prefix);
    std::fs::create_dir_all(&prefix)?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(package))
}

/// The version of npm's `axe-core`, the accessibility checker the browser tests run.
pub const AXE_CORE_VERSION: &str = "4.14.1";

/// Where `axe.min.js` is installed (its own prefix, so installing it leaves binaryen alone).
pub fn axe_script() -> PathBuf {
    target_dir().join("tools/axe/node_modules/axe-core/axe.min.js")
}

/// `axe-core` for the accessibility tests, from npm.
pub fn ensure_axe_core() -> anyhow::Result<()> {
    let package = axe_script().with_file_name("package.json");
    let installed = std::fs::read_to_string(&package)
        .is_ok_and(|p| p.contains(&format!("\"version\": \"{AXE_CORE_VERSION}\"")));
    if installed {
        return Ok(());
    }
    step(&format!("Installing axe-core {AXE_CORE_VERSION} (npm)"));
    npm_install("tools/axe", &format!("axe-core@{AXE_CORE_VERSION}"))
        .map_err(|e| anyhow::anyhow!("{e}; the accessibility tests need npm"))
}

/// The version of PyPI's `aiosmtpd`, the real SMTP server the mail tests send to.
pub const AIOSMTPD_VERSION: &str = "1.4.6";

/// `aiosmtpd` for the mail tests, from PyPI (Python 3 and pip must be there).
pub fn ensure_aiosmtpd() -> anyhow::Result<()> {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    step(&format!("Installing aiosmtpd {AIOSMTPD_VERSION} (pip)"));
    run(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "--quiet",
        &format!("aiosmtpd=={AIOSMTPD_VERSION}"),
    ]))
    .map_err(|e| anyhow::anyhow!("{e}; the mail tests need Python 3 with pip"))
}

/// The OpenAPI fuzzer the API test runs against a real deployment.
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// schemathesis from PyPI, at [`SCHEMATHESIS_VERSION`], unless that version is installed.
pub fn ensure_schemathesis() -> anyhow::Result<()> {
    let installed = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    step(&format!(
        "Installing schemathesis {SCHEMATHESIS_VERSION} (pip)"
    ));
    run(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "--quiet",
        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
    ]))
    .map_err(|e| anyhow::anyhow!("{e}; the OpenAPI test needs Python 3 with pip"))
}

/// Whether xtask runs as root (and may install system packages).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// nginx for the bench's peer (`bench/src/peer.rs`), from apt (`nginx-light`), where it can be
/// installed: the peer is part of every bench run, and without nginx it is skipped, so two runs
/// on different machines would not report the same figures. Best effort: when it cannot be
/// installed the bench says so and runs without the peer. The bench starts nginx itself, on its
/// own ports and configuration; the system service the package starts is stopped again.
pub fn ensure_nginx() {
    let present = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if present || !is_root() {
        return;
    }
    step("Installing nginx for the bench's peer (apt-get install nginx-light)");
    let installed = run(Command::new("apt-get").arg("update")).and_then(|()| {
        run(Command::new("apt-get").args([
            "-o",
            "DPkg::Lock::Timeout=120",
            "install",
            "-y",
            "nginx-light",
        ]))
    });
    match installed {
        Ok(()) => {
            let _ = Command::new("/usr/sbin/nginx")
                .args(["-s", "quit"])
                .status();
        }
        Err(e) => eprintln!("nginx could not be installed ({e}); the bench runs without the peer"),
    }
}

/// Chromium and ChromeDriver for the browser tests, from Debian's packages.
pub fn ensure_chromium() -> anyhow::Result<()> {
    let present = |p: &str| std::path::Path::new(p).exists();
    if present("/usr/bin/chromium") && present("/usr/bin/chromedriver") {
        return Ok(());
    }
    anyhow::ensure!(
        is_root(),
        "the browser tests need Chromium and ChromeDriver: run `sudo apt-get install -y chromium chromium-driver` and try again"
    );
    step("Installing Chromium and ChromeDriver (apt-get)");
    run(Command::new("apt-get").arg("update"))?;
    // Another apt may hold the dpkg lock for a moment on a fresh machine; wait for it.
    run(Command::new("apt-get").args([
        "-o",
        "DPkg::Lock::Timeout=120",
        "install",
        "-y",
        "chromium",
        "chromium-driver",
    ]))?;
    Ok(())
}
