//! `cargo xtask bench [--quick]`: starts the real binaries (release builds) and measures what the
//! product promises, each figure beside a bare baseline measured in the same run. Writes
//! `target/bench/summary.json`, `summary.md`, `failover.svg` and `throughput.svg`, and prints the
//! table.
//!
//! Sections, in order: widget weight; the SQLite baseline; the relay baseline and the real
//! throughput (with replication lag sampled meanwhile); latency at many quiet conversations; idle
//! connections and their memory; kill -9 failovers, SIGSTOP freezes and black holes of the primary
//! with active chats (`failover.rs`), and the messages lost or doubled across all of them.

mod failover;
mod generators;
mod load;
mod peer;
mod relay;
mod report;
mod sizes;
mod sqlite;
mod stats;

use load::{Pace, Seen, Window};
use stats::{now_us, quantile};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tests::moderator::ModeratorProcess;
use tests::pair::{start_pair, Member};

/// How much of everything to do.
struct Scale {
    throughput_conversations: usize,
    throughput_secs: u64,
    latency_conversations: usize,
    latency_secs: u64,
    idle_connections: usize,
    failovers: usize,
    freezes: usize,
    failover_chats: usize,
    black_holes: usize,
}

const QUICK: Scale = Scale {
    throughput_conversations: 200,
    throughput_secs: 10,
    latency_conversations: 1_000,
    latency_secs: 15,
    idle_connections: 2_000,
    failovers: 3,
    freezes: 1,
    failover_chats: 50,
    black_holes: 1,
};

const FULL: Scale = Scale {
    throughput_conversations: 1_000,
    throughput_secs: 30,
    latency_conversations: 10_000,
    latency_secs: 30,
    idle_connections: 100_000,
    failovers: 10,
    freezes: 3,
    failover_chats: 200,
    black_holes: 3,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == generators::WORKER_FLAG) {
        return generators::worker().await;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { QUICK } else { FULL };
    let root = tests::root();
    let out = std::env::var_os("LIVECHAT_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench"));
    let site = tests::deployment::site_dir();
    now_us();
    let mut figures: Vec<(String, f64)> = Vec::new();
    let add = |figures: &mut Vec<(String, f64)>, key: &str, value: f64| {
        println!("  {key} = {value:.2}");
        figures.push((key.into(), value));
    };

    println!("==> Widget weight");
    for (key, value) in sizes::measure(&site, &root)? {
        add(&mut figures, key, value);
    }

    println!("==> SQLite baseline (durable single-row transactions)");
    let rows = tokio::task::spawn_blocking(|| sqlite::rows_per_s(Duration::from_secs(5))).await??;
    add(&mut figures, "sqlite_baseline_rows_per_s", rows);

    let throughput_secs = Duration::from_secs(scale.throughput_secs);
    println!(
        "==> Relay baseline: {} conversations for {} s",
        scale.throughput_conversations, scale.throughput_secs
    );
    let relay_url = relay::start().await?;
    let (relay_rate, relay_trace, _) = throughput(
        vec![relay_url],
        None,
        "relay".into(),
        scale.throughput_conversations,
        throughput_secs,
        None,
    )
    .await;
    add(&mut figures, "relay_baseline_msgs_per_s", relay_rate);

    println!("==> Primary, redundant and moderator: throughput and replication lag");
    let (primary, redundant) = start_pair(0);
    let moderator = ModeratorProcess::start(&primary, &redundant);
    moderator.wait_until_pushed().await;
    let deployments = vec![primary.url(), redundant.url()];
    let token = load::operator_token(&primary.url()).await?;
    let (rate, trace, lags) = throughput(
        deployments.clone(),
        Some(moderator.url.clone()),
        token.clone(),
        scale.throughput_conversations,
        throughput_secs,
        Some(primary.url()),
    )
    .await;
    add(&mut figures, "throughput_msgs_per_s", rate);
    report::throughput_svg(
        &out.join("throughput.svg"),
        &[
            ("bare relay (in memory)", "#dd6b20", &relay_trace),
            ("this product (durable, replicated)", "#2b6cb0", &trace),
        ],
    )?;
    add(&mut figures, "throughput_ratio", rate / relay_rate.max(1.0));
    let mut lags = lags;
    add(
        &mut figures,
        "replication_lag_ms_p99",
        quantile(&mut lags, 0.99),
    );

    println!(
        "==> Latency: {} conversations, one message each every 5 s, for {} s",
        scale.latency_conversations, scale.latency_secs
    );
    let mut latencies = latency(
        deployments.clone(),
        Some(moderator.url.clone()),
        token.clone(),
        scale.latency_conversations,
        Duration::from_secs(scale.latency_secs),
    )
    .await;
    add(
        &mut figures,
        "latency_ms_p50",
        quantile(&mut latencies, 0.5),
    );
    add(
        &mut figures,
        "latency_ms_p99",
        quantile(&mut latencies, 0.99),
    );

    println!("==> Idle connections: {}", scale.idle_connections);
    let (held, per_connection) = idle::hold(&primary, scale.idle_connections).await?;
    add(&mut figures, "idle_connections", held as f64);
    add(&mut figures, "bytes_per_idle_connection", per_connection);
    drop(moderator);
    drop((primary, redundant));

    println!(
        "==> Failover: {} kill -9 and {} SIGSTOP of the primary with {} active chats",
        scale.failovers, scale.freezes, scale.failover_chats
    );
    use failover::Fault;
    let rounds: Vec<Fault> = std::iter::repeat_n(Fault::Kill, scale.failovers)
        .chain(std::iter::repeat_n(Fault::Freeze, scale.freezes))
        .collect();
    let direct = failover::run(&rounds, scale.failover_chats).await?;
    println!(
        "==> Black hole: {} times every path to and from the primary swallows its packets",
        scale.black_holes
    );
    let holed = failover::run(
        &vec![Fault::BlackHole; scale.black_holes],
        scale.failover_chats,
    )
    .await?;
    for (name, fault, outcome) in [
        ("failover", Fault::Kill, &direct),
        ("freeze", Fault::Freeze, &direct),
        ("black_hole", Fault::BlackHole, &holed),
    ] {
        let mut resumed = outcome.resume_ms(fault);
        add(
            &mut figures,
            &format!("{name}_resume_ms_p50"),
            quantile(&mut resumed, 0.5),
        );
        add(
            &mut figures,
            &format!("{name}_resume_ms_max"),
            resumed.iter().copied().fold(0.0, f64::max),
        );
        add(
            &mut figures,
            &format!("{name}_worst_latency_ms"),
            outcome.worst_latency_ms(fault),
        );
    }
    println!(
        "==> The peer beside us: Socket.IO 4 behind nginx with a backup upstream, {} kills of the primary with {} chats",
        scale.failovers, scale.failover_chats
    );
    let mut series = Vec::new();
    if let Some(trace) = &direct.first_round {
        series.push((
            "this product: primary, redundant and moderator",
            "#2b6cb0",
            trace,
        ));
    }
    let peer = peer::run(&out, scale.failover_chats, scale.failovers).await;
    match &peer {
        Ok(peer) => {
            let mut resumed = peer.resume_ms.clone();
            add(
                &mut figures,
                "peer_resume_ms_p50",
                quantile(&mut resumed, 0.5),
            );
            add(
                &mut figures,
                "peer_resume_ms_max",
                resumed.iter().copied().fold(0.0, f64::max),
            );
            let mut lost = peer.lost_per_kill.clone();
            let mut written = peer.written_per_kill.clone();
            add(
                &mut figures,
                "peer_messages_lost_per_kill_p50",
                quantile(&mut lost, 0.5),
            );
            add(
                &mut figures,
                "peer_messages_written_per_kill_p50",
                quantile(&mut written, 0.5),
            );
            add(&mut figures, "peer_duplicates", peer.duplicates as f64);
            series.push((
                "Socket.IO 4 and nginx (backup upstream)",
                "#dd6b20",
                &peer.first_round,
            ));
        }
        Err(why) => println!("  skipped: {why}"),
    }
    report::failover_svg(&out.join("failover.svg"), &series)?;
    add(
        &mut figures,
        "messages_lost",
        (direct.lost + holed.lost) as f64,
    );
    add(
        &mut figures,
        "duplicates",
        (direct.duplicates + holed.duplicates) as f64,
    );

    let context = vec![
        (
            "mode".to_owned(),
            if quick { "quick" } else { "full" }.to_owned(),
        ),
        (
            "cpus".to_owned(),
            std::thread::available_parallelism()?.to_string(),
        ),
        ("date (UTC)".to_owned(), date()),
    ];
    let table = report::write(&out, &figures, &context)?;
    println!("\n{table}");
    println!("Written to {}", out.display());
    Ok(())
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Visitors writing as fast as confirmations allow (4 unconfirmed each) for `duration` after a
/// 3 s warm-up, one operator counting deliveries. Returns messages per second that were both
/// delivered to the operator and confirmed to their sender inside the window, when each message
/// reached the operator (for `throughput.svg`), and
/// (when `lag_of` names a deployment) its replication lag sampled every 100 ms.
async fn throughput(
    deployments: Vec<String>,
    moderator: Option<String>,
    token: String,
    conversations: usize,
    duration: Duration,
    lag_of: Option<String>,
) -> (f64, report::RateTrace, Vec<f64>) {
    let start = now_us();
    let window = Window {
        from_us: start + 3_000_000,
        to_us: start + 3_000_000 + duration.as_micros() as u64,
    };
    let seen = Arc::new(Seen::default());
    let run = tokio::spawn(run_load(
        deployments,
        moderator,
        token,
        window,
        conversations,
        |_| Pace::Window(4),
        seen.clone(),
    ));
    let sampler = lag_of.map(|deployment| {
        tokio::spawn(async move {
            let mut lags = Vec::new();
            while now_us() < window.to_us {
                if now_us() >= window.from_us {
                    let status = tests::moderator::get_json_with(
                        &format!("{deployment}/v1/replication/status"),
                        Some(tests::pair::REPLICATION_SECRET),
                    )
                    .await;
                    lags.push(status["outbound_lag_ms"].as_f64().unwrap_or(0.0));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            lags
        })
    });
    let _ = run.await;
    let lags = match sampler {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let delivered = seen.delivered.load(Ordering::Relaxed);
    let confirmed = seen.confirmed.load(Ordering::Relaxed);
    let rate = delivered.min(confirmed) as f64 / duration.as_secs_f64();
    let received_us = seen
        .deliveries
        .lock()
        .expect("lock")
        .iter()
        .map(|d| d.1)
        .collect();
    let trace = report::RateTrace {
        received_us,
        start_us: start,
        window_us: (window.from_us, window.to_us),
    };
    (rate, trace, lags)
}

/// One operator and `conversations` visitors (visitor `i` paced by `pace(i)`) writing until the
/// window ends; what they saw goes to `seen`. The visitors run in [`generators::processes`]
/// processes, dealt out in turn so that each process gets visitors of every pace and offset.
async fn run_load(
    deployments: Vec<String>,
    moderator: Option<String>,
    token: String,
    window: Window,
    conversations: usize,
    pace: impl Fn(usize) -> Pace,
    seen: Arc<Seen>,
) {
    let operator = load::operator(
        deployments.clone(),
        moderator.clone(),
        token,
        window,
        window.to_us + 2_000_000,
        seen.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let processes = generators::processes().min(conversations.max(1));
    if processes == 1 {
        load::visitors(
            &deployments,
            moderator.clone(),
            (0..conversations).map(pace),
            window,
            seen.clone(),
        )
        .await;
    } else {
        let workers: Vec<_> = (0..processes)
            .map(|p| {
                let share = generators::Share {
                    deployments: deployments.clone(),
                    moderator: moderator.clone(),
                    window,
                    paces: (p..conversations).step_by(processes).map(&pace).collect(),
                };
                tokio::spawn(generators::run(share))
            })
            .collect();
        for worker in workers {
            match worker.await {
                Ok(Ok(confirmed)) => {
                    seen.confirmed.fetch_add(confirmed, Ordering::Relaxed);
                }
                Ok(Err(why)) => println!("  a load generator process failed: {why:#}"),
                Err(why) => println!("  a load generator process failed: {why}"),
            }
        }
    }
    let _ = operator.await;
}

/// `conversations` visitors, each writing once every 5 s (spread evenly), for `duration` after a
/// warm-up of one period; returns the latencies (ms) the operator measured.
async fn latency(
    deployments: Vec<String>,
    moderator: Option<String>,
    token: String,
    conversations: usize,
    duration: Duration,
) -> Vec<f64> {
    let period = Duration::from_secs(5);
    let start = now_us();
    let window = Window {
        from_us: start + 2 * period.as_micros() as u64,
        to_us: start + 2 * period.as_micros() as u64 + duration.as_micros() as u64,
    };
    let seen = Arc::new(Seen::default());
    run_load(
        deployments,
        moderator,
        token,
        window,
        conversations,
        |i| Pace::Every {
            period,
            offset: period.mul_f64(i as f64 / conversations as f64) + period,
        },
        seen.clone(),
    )
    .await;
    seen.latency_values()
}

mod idle {
    //! Idle connections: visitors that said hello and then say nothing, spread over several
    //! loopback source addresses (each holds at most ~28,000 ports towards one server port).

    use super::Member;
    use futures_util::{SinkExt, StreamExt};
    use protocol::{ClientFrame, SiteId};
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

    async fn open(server: std::net::SocketAddr, source: std::net::Ipv4Addr) -> Option<Socket> {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind((source, 0).into()).ok()?;
        let stream = socket.connect(server).await.ok()?;
        let url = format!("ws://{server}{}", protocol::WS_PATH);
        let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.ok()?;
        let hello = ClientFrame::first_visitor_hello(SiteId(tests::deployment::SITE_ID.into()));
        ws.send(WsMessage::Text(hello.encode().into())).await.ok()?;
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(_)))) => Some(ws),
            _ => None,
        }
    }

    /// Opens up to `count` idle connections to `member`; returns how many are held and the
    /// server's resident memory growth divided by that.
    pub async fn hold(member: &Member, count: usize) -> anyhow::Result<(usize, f64)> {
        let pid = member
            .pid()
            .ok_or_else(|| anyhow::anyhow!("the primary is not running"))?;
        let server: std::net::SocketAddr = format!("127.0.0.1:{}", member.port).parse()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut rss = super::stats::Rss::of(pid)?;
        let before = rss.bytes()?;
        let mut held = Vec::with_capacity(count);
        let batch = 500;
        for start in (0..count).step_by(batch) {
            let opening: Vec<_> = (start..(start + batch).min(count))
                .map(|i| {
                    let source = std::net::Ipv4Addr::new(127, 0, 1 + (i / 20_000) as u8, 1);
                    // A server out of file descriptors leaves connections in its backlog,
                    // never answered: each attempt has a deadline.
                    tokio::spawn(tokio::time::timeout(
                        Duration::from_secs(10),
                        open(server, source),
                    ))
                })
                .collect();
            let before_batch = held.len();
            for task in opening {
                if let Ok(Ok(Some(socket))) = task.await {
                    held.push(socket);
                }
            }
            if held.len() == before_batch {
                println!(
                    "  stopped at {} connections: no more could be opened (file descriptor limits)",
                    held.len()
                );
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss.bytes()?;
        let per = after.saturating_sub(before) as f64 / held.len().max(1) as f64;
        Ok((held.len(), per))
    }
}
