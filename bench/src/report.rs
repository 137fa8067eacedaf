//! The outputs: `summary.json` (flat numbers), `summary.md` and the terminal table (figure,
//! value, target), and `failover.svg` (per-message latency across one failover).

use std::fmt::Write;
use std::path::Path;

/// A figure's target on the 2-core reference machine, for the table: (comparison, bound).
fn target(key: &str) -> Option<(&'static str, f64)> {
    Some(match key {
        "throughput_ratio" => (">=", 0.5),
        "latency_ms_p99" => ("<=", 10.0),
        "bytes_per_idle_connection" => ("<=", 8192.0),
        "replication_lag_ms_p99" => ("<=", 50.0),
        "failover_resume_ms_p50" => ("<=", 300.0),
        "failover_resume_ms_max" => ("<=", 1000.0),
        "freeze_resume_ms_p50" => ("<=", 3000.0),
        "widget_total_gz_bytes" => ("<=", 150_000.0),
        "launcher_gz_bytes" => ("<=", crate::sizes::LAUNCHER_BUDGET_GZ_BYTES as f64),
        "messages_lost" | "duplicates" => ("<=", 0.0),
        _ => return None,
    })
}

/// Writes `summary.json` and `summary.md` into `dir` and returns the table for the terminal.
pub fn write(
    dir: &Path,
    figures: &[(String, f64)],
    context: &[(String, String)],
) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let mut json = serde_json::Map::new();
    for (key, value) in figures {
        json.insert(key.clone(), serde_json::json!(value));
    }
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&serde_json::Value::Object(json))?,
    )?;
    let mut table = String::from("| figure | value | target | met |\n|---|---:|---|---|\n");
    for (key, value) in figures {
        let (goal, met) = match target(key) {
            Some((op, bound)) => {
                let met = if op == ">=" {
                    *value >= bound
                } else {
                    *value <= bound
                };
                (format!("{op} {bound}"), if met { "yes" } else { "**no**" })
            }
            None => (String::new(), ""),
        };
        let shown = if value.fract() == 0.0 {
            format!("{value:.0}")
        } else {
            format!("{value:.2}")
        };
        writeln!(table, "| `{key}` | {shown} | {goal} | {met} |")?;
    }
    let mut md = String::from("# Benchmark summary\n\n");
    for (key, value) in context {
        writeln!(md, "- {key}: {value}")?;
    }
    md.push('\n');
    md.push_str(&table);
    std::fs::write(dir.join("summary.md"), &md)?;
    Ok(table)
}

/// `failover.svg`: each message's end-to-end latency against its send time, with the kill and the
/// moderator's switch marked. Plain SVG, no plotting library.
pub fn failover_svg(
    path: &Path,
    points: &[(u64, f64)],
    kill_us: u64,
    switch_us: Option<u64>,
) -> anyhow::Result<()> {
    let (width, height, margin) = (900.0, 420.0, 60.0);
    let t0 = points
        .iter()
        .map(|p| p.0)
        .min()
        .unwrap_or(kill_us)
        .min(kill_us);
    let t1 = points
        .iter()
        .map(|p| p.0)
        .max()
        .unwrap_or(kill_us)
        .max(kill_us + 1);
    let max_latency = points.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let x = |t: u64| margin + (t - t0) as f64 / (t1 - t0) as f64 * (width - 2.0 * margin);
    let y = |ms: f64| height - margin - ms / max_latency * (height - 2.0 * margin);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    writeln!(
        svg,
        "<text x=\"{margin}\" y=\"24\" font-size=\"15\">End-to-end latency of each message across a kill -9 of the primary</text>"
    )?;
    writeln!(
        svg,
        "<line x1=\"{margin}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\
         <line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{b}\" stroke=\"black\"/>",
        b = height - margin,
        r = width - margin
    )?;
    writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\">send time (s)</text><text x=\"8\" y=\"{}\">{:.0} ms</text><text x=\"8\" y=\"{}\">0</text>",
        width / 2.0,
        height - 20.0,
        margin + 4.0,
        max_latency,
        height - margin
    )?;
    for (sent, latency) in points {
        writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.6\" fill=\"#2b6cb0\"/>",
            x(*sent),
            y(*latency)
        )?;
    }
    let mut mark = |t: u64, label: &str, colour: &str| {
        let _ = writeln!(
            svg,
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"{colour}\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{3:.1}\" y=\"{4}\" fill=\"{colour}\">{label}</text>",
            x(t),
            margin,
            height - margin,
            x(t) + 4.0,
            margin + 14.0
        );
    };
    mark(kill_us, "kill -9 primary", "#c53030");
    if let Some(switch) = switch_us {
        mark(switch.max(t0), "moderator switches", "#2f855a");
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)?;
    Ok(())
}
