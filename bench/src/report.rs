//! The outputs: `summary.json` (flat numbers), `summary.md` and the terminal table (figure,
//! value, target), and `failover.svg` (per-message latency across one failover).

use std::fmt::Write;
use std::path::Path;

/// A figure's target on the 2-core reference machine, for the table: (comparison, bound).
fn target(key: &str) -> Option<(&'static str, f64)> {
    Some(match key {
        "throughput_ratio" => (">=", 0.5),
        "latency_ms_p99" => ("<=", 10.0),
        "bytes_per_idle_connection" => ("<=", 4096.0),
        "replication_lag_ms_p99" => ("<=", 50.0),
        "failover_resume_ms_p50" => ("<=", 50.0),
        "failover_resume_ms_max" => ("<=", 250.0),
        "failover_worst_latency_ms" => ("<=", 100.0),
        "freeze_resume_ms_p50" | "black_hole_resume_ms_p50" => ("<=", 2000.0),
        "freeze_resume_ms_max" | "black_hole_resume_ms_max" => ("<=", 3000.0),
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
            Some((op, bound)) if value.is_nan() => (format!("{op} {bound}"), "**no**"),
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
        let shown = if value.is_nan() {
            "not measured".to_owned()
        } else if value.fract() == 0.0 {
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

/// One failover as a picture shows it: each message's send time (µs since the bench started) and
/// end-to-end latency (ms), the fault, and when the moderator switched (where there is one).
pub struct Trace {
    /// (send time, latency) per message delivered.
    pub points: Vec<(u64, f64)>,
    /// When the primary was killed.
    pub fault_us: u64,
    /// When the moderator named the other deployment.
    pub switch_us: Option<u64>,
}

/// `failover.svg`: each message's end-to-end latency against its send time, in seconds from the
/// kill, ours and (when it ran) the Socket.IO and nginx setup's on the same axes, with the kill and
/// the switches marked. Plain SVG, no plotting library.
pub fn failover_svg(path: &Path, series: &[(&str, &str, &Trace)]) -> anyhow::Result<()> {
    let (width, height, margin) = (900.0, 440.0, 64.0);
    // Every trace is drawn relative to its own kill, from 3 s before to 4 s after.
    let (from_s, to_s) = (-3.0f64, 4.0f64);
    let relative = |trace: &Trace, t: u64| (t as f64 - trace.fault_us as f64) / 1e6;
    let max_latency = series
        .iter()
        .flat_map(|(_, _, trace)| trace.points.iter().map(|p| p.1))
        .fold(10.0f64, f64::max);
    let step_ms = nice_step(max_latency / 5.0);
    let top_ms = (max_latency / step_ms).ceil() * step_ms;
    let plot_w = width - 2.0 * margin;
    let plot_h = height - 2.0 * margin;
    let x = |s: f64| margin + (s - from_s) / (to_s - from_s) * plot_w;
    let y = |ms: f64| height - margin - ms.min(top_ms) / top_ms * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    writeln!(
        svg,
        "<text x=\"{margin}\" y=\"24\" font-size=\"15\">End-to-end latency of each message across a kill -9 of the primary</text>"
    )?;
    let bottom = height - margin;
    writeln!(
        svg,
        "<line x1=\"{margin}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"black\"/>\
         <line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{bottom}\" stroke=\"black\"/>",
        width - margin
    )?;
    for second in (from_s as i64)..=(to_s as i64) {
        let at = x(second as f64);
        writeln!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{bottom}\" x2=\"{at:.1}\" y2=\"{}\" stroke=\"black\"/>\
             <text x=\"{at:.1}\" y=\"{}\" text-anchor=\"middle\">{second}</text>",
            bottom + 5.0,
            bottom + 18.0
        )?;
    }
    let mut tick = 0.0;
    while tick <= top_ms + 1e-9 {
        let at = y(tick);
        writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{at:.1}\" x2=\"{margin}\" y2=\"{at:.1}\" stroke=\"black\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{tick:.0}</text>",
            margin - 5.0,
            margin - 8.0,
            at + 4.0
        )?;
        tick += step_ms;
    }
    writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">send time, seconds from the kill</text>\
         <text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">end-to-end latency (ms)</text>",
        width / 2.0,
        height - 22.0,
        height / 2.0,
        height / 2.0
    )?;
    for (index, (label, colour, trace)) in series.iter().enumerate() {
        for (sent, latency) in &trace.points {
            let s = relative(trace, *sent);
            if (from_s..=to_s).contains(&s) {
                writeln!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.6\" fill=\"{colour}\"/>",
                    x(s),
                    y(*latency)
                )?;
            }
        }
        if let Some(switch) = trace.switch_us {
            let at = x(relative(trace, switch).clamp(from_s, to_s));
            writeln!(
                svg,
                "<line x1=\"{at:.1}\" y1=\"{margin}\" x2=\"{at:.1}\" y2=\"{bottom}\" stroke=\"{colour}\" stroke-dasharray=\"2 4\"/>"
            )?;
        }
        let legend_y = margin + 16.0 * index as f64;
        writeln!(
            svg,
            "<circle cx=\"{}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{:.1}\">{label}</text>",
            width - margin - 300.0,
            legend_y - 4.0,
            width - margin - 290.0,
            legend_y
        )?;
    }
    let kill = x(0.0);
    writeln!(
        svg,
        "<line x1=\"{kill:.1}\" y1=\"{margin}\" x2=\"{kill:.1}\" y2=\"{bottom}\" stroke=\"#c53030\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{:.1}\" y=\"{}\" fill=\"#c53030\">kill -9 primary (dotted: the switch)</text>",
        kill + 4.0,
        margin - 6.0
    )?;
    svg.push_str("</svg>\n");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, svg)?;
    Ok(())
}

/// A round axis step (1, 2 or 5 times a power of ten) near `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.max(1e-9).log10().floor());
    let unit = raw / power;
    power
        * if unit <= 1.0 {
            1.0
        } else if unit <= 2.0 {
            2.0
        } else if unit <= 5.0 {
            5.0
        } else {
            10.0
        }
}
