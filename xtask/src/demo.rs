//! `cargo xtask demo`: one deployment with embedded defaults, a demo site and a demo admin.
//!
//! The demo page is opened as `http://localhost:PORT/` while the snippet names the deployment as
//! `http://127.0.0.1:PORT`: two different origins, so the demo exercises the same cross-origin path
//! (CORS, allowed origins) as a real customer's site.

use crate::{cargo, site, step, target_dir, tools};
use std::process::Command;

/// The demo operator's credentials, printed at start.
pub const DEMO_EMAIL: &str = "admin@example.com";
/// The demo operator's password.
pub const DEMO_PASSWORD: &str = "demo-password";

/// Sets everything up and runs the deployment until Ctrl-C.
pub fn run(port: u16) -> anyhow::Result<()> {
    tools::ensure_wasm_tools()?;
    site::build(true)?;
    step("Building the server");
    crate::run(cargo().args(["build", "--package", "server", "--bin", "server"]))?;
    let server = target_dir().join("debug/server");
    let data_dir = target_dir().join("demo/data");
    let site_dir = target_dir().join("site");
    let deployment = format!("http://127.0.0.1:{port}");
    let page_origin = format!("http://localhost:{port}");
    site::render_demo_page(&site_dir, &deployment, "demo")?;

    step("Preparing the demo site and operator");
    let admin = |command: &mut Command| {
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .env("LIVECHAT_OPERATOR_PASSWORD", DEMO_PASSWORD);
    };
    let mut add_site = Command::new(&server);
    admin(&mut add_site);
    add_site.args([
        "site",
        "add",
        "--id",
        "demo",
        "--name",
        "Northwind Coffee",
        "--origin",
        &page_origin,
        "--origin",
        &deployment,
    ]);
    crate::run(&mut add_site)?;
    let mut add_operator = Command::new(&server);
    admin(&mut add_operator);
    add_operator.args([
        "operator",
        "add",
        "--email",
        DEMO_EMAIL,
        "--name",
        "Demo Admin",
        "--role",
        "admin",
        "--replace",
    ]);
    crate::run(&mut add_operator)?;

    println!(
        "\n  LiveChat demo\n\
         \n    Customer page (visitor):  {page_origin}/\
         \n    Operator console:         {deployment}/console/\
         \n    Console login:            {DEMO_EMAIL} / {DEMO_PASSWORD}\
         \n    Health:                   {deployment}/health\
         \n    Data directory:           {}\
         \n\n  Open the customer page, click the chat button and write; answer from the console.\
         \n  Press Ctrl-C to stop.\n",
        data_dir.display()
    );
    let mut serve = Command::new(&server);
    serve
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--assets-dir")
        .arg(&site_dir)
        .args(["--listen", &format!("127.0.0.1:{port}"), "serve"]);
    crate::run(&mut serve)
}
