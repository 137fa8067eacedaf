//! The fault-injection suite's short run (`cargo xtask chaos` runs it at length): 100 native
//! visitors and 10 operators chat through fault-injecting proxies while a seeded schedule kills,
//! freezes, black-holes, cuts, skews and restarts things for 75 s; after healing, every
//! acknowledged message must be on both deployments and with everyone in its conversation, once
//! and in order, and every conversation must still work. See docs/reliability.md.

use std::time::Duration;
use tests::chaos::{self, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_message_survives_a_seeded_run_of_faults() {
    // `LIVECHAT_CHAOS_SEED` replays another schedule; the default one is what CI runs.
    let seed = std::env::var("LIVECHAT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let report = chaos::run(Options {
        seed,
        duration: Duration::from_secs(75),
        visitors: 100,
        operators: 10,
        browsers: 0,
    })
    .await;
    let out = tests::root().join("target/chaos/report-test.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("{}", report.summary());
    assert!(
        report.faults_injected >= 5,
        "too few faults: {}",
        report.summary()
    );
    assert!(
        report.messages_acked >= 1_000,
        "too little traffic: {}",
        report.summary()
    );
    assert!(
        report.passed(),
        "{}\nreport: {}",
        report.summary(),
        out.display()
    );
}
