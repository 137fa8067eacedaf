//! `cargo xtask`: project automation (set-up, demo, tests).

use std::process::Command;

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "test" => {
            let status = Command::new("cargo").args(["test", "-p", "protocol", "-p", "server"]).status()?;
            anyhow::ensure!(status.success(), "tests failed");
            Ok(())
        }
        other => anyhow::bail!("unknown task {other:?}; try `cargo xtask test`"),
    }
}
