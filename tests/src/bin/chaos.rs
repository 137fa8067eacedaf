//! `cargo xtask chaos --seed S --minutes M`: the fault-injection suite at full length. Runs the
//! real binaries behind fault-injecting proxies, injects seeded faults for the time given, heals,
//! checks, writes `target/chaos/report.json` and exits with 1 if anything was lost, doubled,
//! reordered or stuck. See docs/reliability.md.

use std::time::Duration;
use tests::chaos::{self, Options};

fn usage() -> ! {
    eprintln!(
        "usage: chaos [--seed S] [--minutes M | --seconds S] [--visitors N] [--operators N] [--browsers N] [--out FILE]"
    );
    std::process::exit(2);
}

fn main() {
    let mut options = Options {
        seed: 1,
        duration: Duration::from_secs(600),
        visitors: 100,
        operators: 10,
        browsers: 2,
    };
    let mut out = tests::root().join("target/chaos/report.json");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        let number = |text: String| text.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--seed" => options.seed = number(value()),
            "--minutes" => options.duration = Duration::from_secs(60 * number(value())),
            "--seconds" => options.duration = Duration::from_secs(number(value())),
            "--visitors" => options.visitors = number(value()) as usize,
            "--operators" => options.operators = number(value()).max(1) as usize,
            "--browsers" => options.browsers = number(value()) as usize,
            "--out" => out = value().into(),
            _ => usage(),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    eprintln!(
        "chaos: seed {}, faults for {} s, {} visitors, {} operators, {} browsers",
        options.seed,
        options.duration.as_secs(),
        options.visitors,
        options.operators,
        options.browsers
    );
    let report = runtime.block_on(chaos::run(options));
    std::fs::create_dir_all(out.parent().expect("a directory")).expect("creating the directory");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&report).expect("the report serialises"),
    )
    .expect("writing the report");
    println!("{}", report.summary());
    println!("report: {}", out.display());
    if !report.passed() {
        std::process::exit(1);
    }
}
