//! The outputs: `summary.json` (flat numbers), `summary.md` and the terminal table (figure,
//! value, target), `failover.svg` (per-message latency across one failover) and `throughput.svg`
//! (messages per second over each throughput run).

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

/// A chart's frame in plain SVG (no plotting library): a title, two axes with their ticks and
/// labels, and a legend; the caller draws its series in the chart's coordinates ([`Chart::x`],
/// [`Chart::y`]). Values above the y axis's top are drawn at the top.
struct Chart {
    svg: String,
    width: f64,
    height: f64,
    margin: f64,
    x_range: (f64, f64),
    y_top: f64,
    series: usize,
}

impl Chart {
    /// A chart from `x_range.0` to `x_range.1` (ticks every `x_step`), and from 0 to a round
    /// value at or above `y_max`.
    fn new(
        title: &str,
        x_range: (f64, f64),
        x_step: f64,
        x_label: &str,
        y_max: f64,
        y_label: &str,
    ) -> anyhow::Result<Chart> {
        let (width, height, margin) = (900.0, 440.0, 64.0);
        let y_step = nice_step(y_max / 5.0);
        let mut chart = Chart {
            svg: format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
                 font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            ),
            width,
            height,
            margin,
            x_range,
            y_top: (y_max / y_step).ceil() * y_step,
            series: 0,
        };
        let bottom = chart.bottom();
        writeln!(
            chart.svg,
            "<text x=\"{margin}\" y=\"24\" font-size=\"15\">{title}</text>\
             <line x1=\"{margin}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"black\"/>\
             <line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{bottom}\" stroke=\"black\"/>",
            width - margin
        )?;
        // Ticks are counted, not summed, so that a step like 0.1 does not drift past the end.
        let x_ticks = ((x_range.1 - x_range.0) / x_step + 1e-9).floor() as i64;
        for i in 0..=x_ticks {
            // Rounded to a thousandth, so that 3 × 0.1 reads as 0.3.
            let value = ((x_range.0 + i as f64 * x_step) * 1000.0).round() / 1000.0;
            let at = chart.x(value);
            writeln!(
                chart.svg,
                "<line x1=\"{at:.1}\" y1=\"{bottom}\" x2=\"{at:.1}\" y2=\"{}\" stroke=\"black\"/>\
                 <text x=\"{at:.1}\" y=\"{}\" text-anchor=\"middle\">{value}</text>",
                bottom + 5.0,
                bottom + 18.0
            )?;
        }
        let y_ticks = (chart.y_top / y_step + 1e-9).floor() as i64;
        for i in 0..=y_ticks {
            let value = i as f64 * y_step;
            let at = chart.y(value);
            writeln!(
                chart.svg,
                "<line x1=\"{}\" y1=\"{at:.1}\" x2=\"{margin}\" y2=\"{at:.1}\" stroke=\"black\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{value:.0}</text>",
                margin - 5.0,
                margin - 8.0,
                at + 4.0
            )?;
        }
        writeln!(
            chart.svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x_label}</text>\
             <text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">{y_label}</text>",
            width / 2.0,
            height - 22.0,
            height / 2.0,
            height / 2.0
        )?;
        Ok(chart)
    }

    fn bottom(&self) -> f64 {
        self.height - self.margin
    }

    fn x(&self, value: f64) -> f64 {
        let (from, to) = self.x_range;
        self.margin + (value - from) / (to - from) * (self.width - 2.0 * self.margin)
    }

    fn y(&self, value: f64) -> f64 {
        let plot = self.height - 2.0 * self.margin;
        self.bottom() - value.min(self.y_top) / self.y_top * plot
    }

    /// A vertical line across the plot at `value`, in `colour`, dashed by `dashes`.
    fn vertical(&mut self, value: f64, colour: &str, dashes: &str) -> anyhow::Result<()> {
        let at = self.x(value.clamp(self.x_range.0, self.x_range.1));
        writeln!(
            self.svg,
            "<line x1=\"{at:.1}\" y1=\"{}\" x2=\"{at:.1}\" y2=\"{}\" stroke=\"{colour}\" stroke-dasharray=\"{dashes}\"/>",
            self.margin,
            self.bottom()
        )?;
        Ok(())
    }

    /// The next entry of the legend, top right.
    fn legend(&mut self, label: &str, colour: &str) -> anyhow::Result<()> {
        let y = self.margin + 16.0 * self.series as f64;
        self.series += 1;
        writeln!(
            self.svg,
            "<circle cx=\"{}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{y:.1}\">{label}</text>",
            self.width - self.margin - 300.0,
            y - 4.0,
            self.width - self.margin - 290.0,
        )?;
        Ok(())
    }

    fn write(mut self, path: &Path) -> anyhow::Result<()> {
        self.svg.push_str("</svg>\n");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.svg)?;
        Ok(())
    }
}

/// `failover.svg`: each message's end-to-end latency against its send time, in seconds from the
/// kill, ours and (when it ran) the Socket.IO and nginx setup's on the same axes, with the kill and
/// the switches marked.
pub fn failover_svg(path: &Path, series: &[(&str, &str, &Trace)]) -> anyhow::Result<()> {
    // Every trace is drawn relative to its own kill, from 3 s before to 4 s after.
    let (from_s, to_s) = (-3.0f64, 4.0f64);
    let relative = |trace: &Trace, t: u64| (t as f64 - trace.fault_us as f64) / 1e6;
    let max_latency = series
        .iter()
        .flat_map(|(_, _, trace)| trace.points.iter().map(|p| p.1))
        .fold(10.0f64, f64::max);
    let mut chart = Chart::new(
        "End-to-end latency of each message across a kill -9 of the primary",
        (from_s, to_s),
        1.0,
        "send time, seconds from the kill",
        max_latency,
        "end-to-end latency (ms)",
    )?;
    for (label, colour, trace) in series {
        for (sent, latency) in &trace.points {
            let s = relative(trace, *sent);
            if (from_s..=to_s).contains(&s) {
                let (cx, cy) = (chart.x(s), chart.y(*latency));
                writeln!(
                    chart.svg,
                    "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"1.6\" fill=\"{colour}\"/>"
                )?;
            }
        }
        if let Some(switch) = trace.switch_us {
            chart.vertical(relative(trace, switch), colour, "2 4")?;
        }
        chart.legend(label, colour)?;
    }
    chart.vertical(0.0, "#c53030", "4 3")?;
    let kill = chart.x(0.0);
    writeln!(
        chart.svg,
        "<text x=\"{:.1}\" y=\"{}\" fill=\"#c53030\">kill -9 primary (dotted: the switch)</text>",
        kill + 4.0,
        chart.margin - 6.0
    )?;
    chart.write(path)
}

/// One throughput run as `throughput.svg` shows it: when each message reached the operator (µs
/// since the bench started), and the run's start and measurement window.
pub struct RateTrace {
    /// Receive times, in any order.
    pub received_us: Vec<u64>,
    /// When the run started (its visitors connect from then on).
    pub start_us: u64,
    /// The measurement window, after the warm-up.
    pub window_us: (u64, u64),
}

/// Messages per second in consecutive buckets of `bucket_us` from `from_us` to `to_us`: (the
/// bucket's start in seconds from `from_us`, its rate).
pub fn rate_over_time(
    received_us: &[u64],
    from_us: u64,
    to_us: u64,
    bucket_us: u64,
) -> Vec<(f64, f64)> {
    let buckets = to_us.saturating_sub(from_us).div_ceil(bucket_us) as usize;
    let mut counts = vec![0u64; buckets];
    for &t in received_us {
        if (from_us..to_us).contains(&t) {
            counts[((t - from_us) / bucket_us) as usize] += 1;
        }
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            (
                (i as u64 * bucket_us) as f64 / 1e6,
                n as f64 * 1e6 / bucket_us as f64,
            )
        })
        .collect()
}

/// `throughput.svg`: messages delivered to the operator per second over each throughput run (the
/// bare relay and this product), each from its own start, with the measurement window marked.
pub fn throughput_svg(path: &Path, series: &[(&str, &str, &RateTrace)]) -> anyhow::Result<()> {
    let bucket_us = 250_000;
    let rates: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, _, trace)| {
            // Two seconds past the window: what was still in flight when the visitors stopped.
            rate_over_time(
                &trace.received_us,
                trace.start_us,
                trace.window_us.1 + 2_000_000,
                bucket_us,
            )
        })
        .collect();
    let to_s = rates
        .iter()
        .filter_map(|r| r.last().map(|last| last.0 + bucket_us as f64 / 1e6))
        .fold(1.0f64, f64::max);
    // The axis is scaled to the windows: a backlog flushed after a window (the relay's operator
    // catching up once the visitors stop) would otherwise flatten everything else; it is drawn at
    // the top.
    let max_rate = series
        .iter()
        .zip(&rates)
        .flat_map(|((_, _, trace), rate)| {
            let from = trace.window_us.0.saturating_sub(trace.start_us) as f64 / 1e6;
            let to = trace.window_us.1.saturating_sub(trace.start_us) as f64 / 1e6;
            rate.iter()
                .filter(move |(s, _)| (from..to).contains(s))
                .map(|p| p.1)
        })
        .fold(10.0f64, f64::max)
        * 1.2;
    let mut chart = Chart::new(
        "Messages delivered to the operator per second (250 ms buckets; a higher burst is drawn at the top)",
        (0.0, to_s),
        nice_step(to_s / 10.0),
        "seconds from the run's start (dashed: the measurement window)",
        max_rate,
        "messages per second",
    )?;
    for ((label, colour, trace), rate) in series.iter().zip(&rates) {
        let points: Vec<String> = rate
            .iter()
            .map(|(s, r)| format!("{:.1},{:.1}", chart.x(*s), chart.y(*r)))
            .collect();
        writeln!(
            chart.svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.join(" ")
        )?;
        for edge in [trace.window_us.0, trace.window_us.1] {
            chart.vertical(
                edge.saturating_sub(trace.start_us) as f64 / 1e6,
                colour,
                "4 3",
            )?;
        }
        chart.legend(label, colour)?;
    }
    chart.write(path)
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

#[cfg(test)]
mod tests {
    use super::{failover_svg, rate_over_time, throughput_svg, RateTrace, Trace};

    #[test]
    fn rates_count_each_message_in_its_bucket_and_leave_out_the_rest() {
        // Buckets of 0.5 s from t = 1 s to 2.2 s: [1, 1.5), [1.5, 2), [2, 2.2) (a short last one
        // is counted as a whole bucket, so its rate reads low rather than high).
        let received = [
            900_000, 1_000_000, 1_200_000, 1_499_999, 1_500_000, 2_100_000, 2_200_000,
        ];
        assert_eq!(
            rate_over_time(&received, 1_000_000, 2_200_000, 500_000),
            vec![(0.0, 6.0), (0.5, 2.0), (1.0, 2.0)]
        );
    }

    #[test]
    fn both_pictures_have_labelled_axes_and_a_line_or_points_per_series() {
        let dir = tempfile::tempdir().unwrap();
        // Two runs of 5 s from their own starts: 100 and 40 messages a second.
        let run = |start_us: u64, per_s: u64| RateTrace {
            received_us: (0..5 * per_s)
                .map(|i| start_us + i * 1_000_000 / per_s)
                .collect(),
            start_us,
            window_us: (start_us + 1_000_000, start_us + 4_000_000),
        };
        let (relay, ours) = (run(0, 100), run(60_000_000, 40));
        let path = dir.path().join("throughput.svg");
        throughput_svg(
            &path,
            &[("relay", "#dd6b20", &relay), ("ours", "#2b6cb0", &ours)],
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(
            svg.contains("messages per second") && svg.contains("seconds from the run's start")
        );
        // Both runs are drawn from their own start, to two seconds after their window (6 s), and
        // the axis reaches the relay's rate of 100.
        assert!(
            svg.contains(">6</text>") && !svg.contains(">7</text>"),
            "{svg}"
        );
        assert!(svg.contains(">100</text>"), "{svg}");

        let trace = Trace {
            points: vec![(9_000_000, 2.0), (10_050_000, 60.0), (12_000_000, 3.0)],
            fault_us: 10_000_000,
            switch_us: Some(10_700_000),
        };
        let path = dir.path().join("failover.svg");
        failover_svg(&path, &[("ours", "#2b6cb0", &trace)]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert_eq!(svg.matches("r=\"1.6\"").count(), 3);
        assert!(svg.contains(">-3</text>") && svg.contains(">4</text>"));
        assert!(
            svg.contains("send time, seconds from the kill") && svg.contains("kill -9 primary")
        );
    }
}
