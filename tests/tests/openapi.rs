//! Issue 18's OpenAPI check: schemathesis (from PyPI, installed by `cargo xtask test`) reads
//! `/v1/openapi.json` from a real deployment of a pair, then from its moderator, and sends a
//! bounded number of generated requests to every operation, valid and invalid, as the demo
//! admin (the moderator's admin secret for the moderator). No
//! answer may be a server error, and every answer must match the document: its status, its
//! content type and its body's schema.

use std::process::Command;
use tests::deployment::admin_token;
use tests::moderator::ModeratorProcess;
use tests::pair::start_pair;

/// Runs schemathesis on the document at `url` with `bearer` as credentials, skipping the paths
/// in `excluded`; fails the test on any failure, and unless every operation selected was tested.
async fn fuzz(url: String, bearer: String, excluded: &'static [&'static str]) {
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("timeout");
        // `timeout` bounds the run even if a request hangs; the examples bound it normally.
        command
            .args(["600", "python3", "-m", "schemathesis.cli", "run", &url])
            .args(["--header", &format!("Authorization: Bearer {bearer}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--seed",
                "1",
                "--workers",
                "1",
                "--request-timeout",
                "20",
            ])
            .env("NO_COLOR", "1");
        for path in excluded {
            command.args(["--exclude-path", path]);
        }
        command
            .output()
            .expect("python3 -m schemathesis.cli runs (cargo xtask test installs it)")
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It did test the API: every operation selected was tested.
    let count = |label: &str| {
        printed
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| rest.trim().split('/').next()?.trim().parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no {label} in the report:\n{printed}"))
    };
    let (selected, tested) = (count("Selected:"), count("Tested:"));
    assert!(selected >= 5 && tested == selected, "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let (primary, redundant) = start_pair(0);
    // The failover routes ask the moderator: it runs, as in production.
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    // The deployment's API, as the demo admin. Logging out would end the session the rest of
    // the run uses; that route is exercised by the server's own tests.
    let token = admin_token(&primary.url()).await;
    fuzz(
        format!("{}/v1/openapi.json", primary.url()),
        token,
        &["/v1/operators/logout"],
    )
    .await;
    // The moderator's, with its admin secret.
    fuzz(
        format!("{}/v1/openapi.json", moderator.url),
        tests::moderator::ADMIN_SECRET.to_owned(),
        &[],
    )
    .await;
}
