//! `cargo xtask demo`: two deployments (primary and redundant) replicating to each other and the
//! moderator watching them, with a demo site, a demo admin and embedded defaults.
//!
//! The demo page is opened as `http://localhost:PORT/` while the snippet names the deployments as
//! `http://127.0.0.1:PORT` and `http://127.0.0.1:PORT+1`: different origins, so the demo exercises
//! the same cross-origin path (CORS, allowed origins) as a real customer's site.

use crate::{cargo, site, step, target_dir, tools};
use std::path::Path;
use std::process::{Child, Command};

/// The demo operator's credentials, printed at start.
pub const DEMO_EMAIL: &str = "admin@example.com";
/// The demo operator's password (the demo agent's too).
pub const DEMO_PASSWORD: &str = "demo-password";
/// The demo agent, who sees no admin area (and whom the admin may disable).
pub const DEMO_AGENT_EMAIL: &str = "agent@example.com";
/// Secrets of the demo only: a real installation configures its own.
const DEMO_TOKEN_SECRET: &str = "demo visitor-token secret, not for production";
const DEMO_REPLICATION_SECRET: &str = "demo replication secret, not for production";
const DEMO_MODERATOR_SECRET: &str = "demo moderator secret, not for production";
/// The moderator's admin secret in the demo, printed at start for manual failover.
pub const DEMO_ADMIN_SECRET: &str = "demo-admin-secret-not-for-production";

/// Sets everything up and runs both deployments and the moderator until Ctrl-C.
pub fn run(port: u16) -> anyhow::Result<()> {
    tools::ensure_wasm_tools()?;
    site::build(true)?;
    step("Building the server and the moderator");
    crate::run(cargo().args([
        "build",
        "--package",
        "server",
        "--bin",
        "server",
        "--package",
        "moderator",
        "--bin",
        "moderator",
    ]))?;
    let server = target_dir().join("debug/server");
    let moderator_bin = target_dir().join("debug/moderator");
    let moderator = format!("http://127.0.0.1:{}", port + 2);
    let site_dir = target_dir().join("site");
    let primary = format!("http://127.0.0.1:{port}");
    let redundant = format!("http://127.0.0.1:{}", port + 1);
    let page_origin = format!("http://localhost:{port}");
    site::render_demo_page(
        &site_dir,
        &[primary.clone(), redundant.clone()],
        Some(&moderator),
        "demo",
    )?;

    step("Preparing the demo site and operator (on the primary; they replicate)");
    let primary_dir = target_dir().join("demo/primary");
    let redundant_dir = target_dir().join("demo/redundant");
    let deployment = |name: &str, dir: &Path, peer: &str| {
        let mut command = Command::new(&server);
        command
            .args(["--deployment", name, "--peer-url", peer])
            .arg("--data-dir")
            .arg(dir)
            .env("LIVECHAT_TOKEN_SECRET", DEMO_TOKEN_SECRET)
            .env("LIVECHAT_REPLICATION_SECRET", DEMO_REPLICATION_SECRET)
            .env("LIVECHAT_MODERATOR_SECRET", DEMO_MODERATOR_SECRET)
            .env("LIVECHAT_PUBLIC_URLS", format!("{primary},{redundant}"))
            .env("LIVECHAT_MODERATOR_URL", &moderator)
            .env("LIVECHAT_MODERATOR_ADMIN_SECRET", DEMO_ADMIN_SECRET)
            .env("LIVECHAT_OPERATOR_PASSWORD", DEMO_PASSWORD);
        command
    };
    crate::run(deployment("primary", &primary_dir, &redundant).args([
        "site",
        "add",
        "--id",
        "demo",
        "--name",
        "Northwind Coffee",
        "--origin",
        &page_origin,
    ]))?;
    // The demo page's "Sign in as Ada" identifies a customer the way a site's backend would:
    // with the signature of her user id made with the site's identity secret.
    let signed = deployment("primary", &primary_dir, &redundant)
        .args(["site", "sign-user", "demo", "ada"])
        .output()?;
    anyhow::ensure!(signed.status.success(), "server site sign-user failed");
    let page = site_dir.join("index.html");
    let signature = String::from_utf8(signed.stdout)?;
    let rendered =
        std::fs::read_to_string(&page)?.replace("{{DEMO_USER_SIGNATURE}}", signature.trim());
    std::fs::write(&page, rendered)?;
    crate::run(deployment("primary", &primary_dir, &redundant).args([
        "operator",
        "add",
        "--email",
        DEMO_EMAIL,
        "--name",
        "Demo Admin",
        "--role",
        "admin",
        "--replace",
    ]))?;
    crate::run(deployment("primary", &primary_dir, &redundant).args([
        "operator",
        "add",
        "--email",
        DEMO_AGENT_EMAIL,
        "--name",
        "Demo Agent",
        "--role",
        "agent",
        "--replace",
    ]))?;

    println!(
        "\n  LiveChat demo: two deployments replicating to each other, and the moderator\
         \n\
         \n    Customer page (visitor):      {page_origin}/\
         \n    Operator console (primary):   {primary}/console/\
         \n    Operator console (redundant): {redundant}/console/\
         \n    Console login:                {DEMO_EMAIL} / {DEMO_PASSWORD} (admin: the Admin button\
         \n                                  manages sites, snippet, look, forms and the team)\
         \n                                  {DEMO_AGENT_EMAIL} / {DEMO_PASSWORD} (agent)\
         \n    Replication status:           {primary}/v1/replication/status\
         \n    Moderator status:             {moderator}/\
         \n    Planned failover:             LIVECHAT_MODERATOR_ADMIN_SECRET={DEMO_ADMIN_SECRET} \\\
         \n                                    {} --moderator-url {moderator} failover --to redundant\
         \n                                  (and `release` afterwards)\
         \n    Data directories:             {} and {}\
         \n\
         \n  Open the customer page, click the chat button and write; answer from either console.\
         \n  Kill the primary (kill -9 with its pid, printed below) and the moderator makes the\
         \n  redundant deployment active within about a second;\
         \n  press Enter to start it again and the primary becomes active once it holds everything.\
         \n  Press Ctrl-C to stop.\n",
        moderator_bin.display(),
        primary_dir.display(),
        redundant_dir.display()
    );
    let serve = |name: &str, dir: &Path, listen: u16, peer: &str| -> Command {
        let mut command = deployment(name, dir, peer);
        command.arg("--assets-dir").arg(&site_dir).args([
            "--listen",
            &format!("127.0.0.1:{listen}"),
            "serve",
        ]);
        command
    };
    let mut watcher = Command::new(&moderator_bin);
    watcher
        .args(["--listen", &format!("127.0.0.1:{}", port + 2)])
        .args(["--primary-url", &primary, "--redundant-url", &redundant])
        .arg("--data-dir")
        .arg(target_dir().join("demo/moderator"))
        .env("LIVECHAT_MODERATOR_ADMIN_SECRET", DEMO_ADMIN_SECRET)
        .env(
            "LIVECHAT_MODERATOR_DEPLOYMENT_SECRET",
            DEMO_MODERATOR_SECRET,
        )
        .arg("serve");
    supervise(vec![
        ("primary", serve("primary", &primary_dir, port, &redundant)),
        (
            "redundant",
            serve("redundant", &redundant_dir, port + 1, &primary),
        ),
        ("moderator", watcher),
    ])
}

/// Runs the processes and, when one stops (say the primary was killed to watch the failover),
/// says so and starts it again when Enter is pressed, so failback can be watched too. Ctrl-C
/// reaches every process (same process group); each stops cleanly.
fn supervise(mut processes: Vec<(&'static str, Command)>) -> anyhow::Result<()> {
    let mut running: Vec<Option<Child>> = Vec::new();
    for (name, command) in &mut processes {
        let child = command.spawn()?;
        println!("  {name}: pid {}", child.id());
        running.push(Some(child));
    }
    let (enter, pressed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
            if enter.send(()).is_err() {
                return;
            }
        }
    });
    loop {
        for ((name, _), slot) in processes.iter().zip(running.iter_mut()) {
            if let Some(child) = slot {
                if let Some(status) = child.try_wait()? {
                    println!("\n  {name} stopped ({status}). Press Enter to start it again.\n");
                    *slot = None;
                }
            }
        }
        if running.iter().all(Option::is_none) {
            return Ok(());
        }
        if pressed
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_ok()
        {
            for ((name, command), slot) in processes.iter_mut().zip(running.iter_mut()) {
                if slot.is_none() {
                    let child = command.spawn()?;
                    println!("  {name} started again: pid {}", child.id());
                    *slot = Some(child);
                }
            }
        }
    }
}
