//! The `server` binary's admin commands, for scripting: sites and operators listed (as text and as
//! `--json`), shown, removed, disabled, enabled and given another role, and the refusals a script
//! must be able to tell from success (exit code and a sentence).

use std::path::Path;
use std::process::{Command, Output};
use tests::deployment::server_bin;

fn server(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(server_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("LIVECHAT_OPERATOR_PASSWORD", "a long password")
        .env("RUST_LOG", "error")
        .output()
        .expect("the server binary runs")
}

/// Runs a command that must succeed; returns its standard output.
fn ok(data_dir: &Path, args: &[&str]) -> String {
    let output = server(data_dir, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command that must fail; returns its error output.
fn refused(data_dir: &Path, args: &[&str]) -> String {
    let output = server(data_dir, args);
    assert!(!output.status.success(), "{args:?} succeeded");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn sites_and_operators_are_managed_from_the_shell_with_json_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    ok(
        dir,
        &[
            "site",
            "add",
            "--id",
            "shop",
            "--name",
            "Shop",
            "--origin",
            "https://shop.example",
        ],
    );
    ok(
        dir,
        &[
            "site",
            "add",
            "--id",
            "blog",
            "--name",
            "Blog",
            "--allow-any-origin",
        ],
    );
    let sites: serde_json::Value =
        serde_json::from_str(&ok(dir, &["site", "list", "--json"])).unwrap();
    let ids: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["blog", "shop"]);
    assert!(
        sites[1]["identity_secret"].as_str().unwrap().len() >= 32,
        "a new site has its secret"
    );
    let shown = ok(dir, &["site", "show", "shop"]);
    assert!(
        shown.contains("https://shop.example") && shown.contains("window.LiveChat"),
        "{shown}"
    );
    ok(dir, &["site", "remove", "blog"]);
    assert!(!ok(dir, &["site", "list"]).contains("blog"));
    assert!(refused(dir, &["site", "show", "blog"]).contains("no site"));

    ok(
        dir,
        &[
            "operator",
            "add",
            "--email",
            "ada@example.com",
            "--name",
            "Ada",
            "--role",
            "admin",
        ],
    );
    ok(
        dir,
        &[
            "operator",
            "add",
            "--email",
            "sam@example.com",
            "--name",
            "Sam",
        ],
    );
    let team: serde_json::Value =
        serde_json::from_str(&ok(dir, &["operator", "list", "--json"])).unwrap();
    assert_eq!(team.as_array().unwrap().len(), 2);
    assert_eq!(
        (&team[1]["email"], &team[1]["role"], &team[1]["state"]),
        (&"sam@example.com".into(), &"agent".into(), &"active".into())
    );
    ok(dir, &["operator", "disable", "sam@example.com"]);
    assert!(ok(dir, &["operator", "list"]).contains("sam@example.com\tSam\tagent\tdisabled"));
    ok(dir, &["operator", "enable", "sam@example.com"]);
    ok(dir, &["operator", "set-role", "sam@example.com", "admin"]);
    assert!(ok(dir, &["operator", "list"]).contains("sam@example.com\tSam\tadmin\tactive"));
    ok(dir, &["operator", "remove", "sam@example.com"]);
    // Ada is now the last admin: she stays.
    let last = refused(dir, &["operator", "remove", "ada@example.com"]);
    assert!(last.contains("no admin"), "{last}");
    assert!(
        refused(dir, &["operator", "set-role", "ada@example.com", "agent"]).contains("no admin")
    );
    assert!(refused(dir, &["operator", "disable", "nobody@example.com"]).contains("not found"));
    assert_eq!(
        ok(dir, &["operator", "list", "--json"])
            .matches("\"email\"")
            .count(),
        1
    );
}
