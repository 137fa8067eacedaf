//! The process's metrics in the Prometheus text format, through the `metrics` facade and its
//! Prometheus exporter (the maintained pair the Rust ecosystem settled on): code anywhere records
//! with `metrics::counter!`, `gauge!` and `histogram!`, and a `/metrics` route renders.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Buckets of the histograms named `…_seconds`: 100 µs to 10 s, dense where acknowledgements
/// and commits fall (a few milliseconds).
const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Buckets of the histograms named `…_size` (how many items at once): powers of two.
const SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Installs the process's recorder with `labels` on every series (the deployment's name), once;
/// later calls (several programs in one test process) keep the first.
pub fn install(labels: &[(&str, &str)]) -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for (key, value) in labels {
            builder = builder.add_global_label(*key, *value);
        }
        let recorder = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_size".into()), SIZES))
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder is installed already, which this once-cell prevents.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Everything recorded so far, in the Prometheus text format (installing a recorder without
/// labels when none was).
pub fn render() -> String {
    let handle = install(&[]);
    handle.run_upkeep();
    handle.render()
}
