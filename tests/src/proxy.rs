//! A fault-injecting TCP proxy for the fault-injection suite, in the spirit of Toxiproxy: it sits
//! between clients (or a deployment's replication puller, or the moderator's probes) and one
//! upstream address, forwards bytes both ways, and misbehaves on command.
//!
//! The fault can change at any moment and applies at once to the connections already open, not
//! only to new ones, because that is what a failing network does: a connection that worked a
//! second ago goes silent. Every wait inside is bounded by the fault changing or a peer closing,
//! so a proxy never keeps a test alive by itself, and dropping the [`Proxy`] closes everything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the bytes (and connections) passing through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Fault {
    /// Forwards everything unchanged.
    Pass,
    /// Accepts connections and takes their bytes, but never forwards anything and never closes:
    /// a packet-dropping firewall or a dead route. Only heartbeats can tell.
    BlackHole,
    /// Resets every connection (TCP RST), open or new.
    Reset,
    /// Delays every chunk by `base_ms` plus up to `jitter_ms`, in order.
    Latency {
        /// The fixed delay.
        base_ms: u64,
        /// The random extra delay's upper bound.
        jitter_ms: u64,
    },
    /// Forwards at most `bytes_per_s` per direction and connection.
    Bandwidth {
        /// The rate.
        bytes_per_s: u64,
    },
    /// Forwards in segments of at most `max_bytes`, each written on its own, so every frame
    /// arrives in many TCP segments.
    Slice {
        /// The largest segment.
        max_bytes: usize,
    },
    /// Resets each connection once it has carried `bytes` (both directions together), often in
    /// the middle of a frame.
    CutAfter {
        /// The bytes a connection may carry.
        bytes: u64,
    },
    /// Answers every new connection with `HTTP/1.1 503` and closes it, like a broken load
    /// balancer in front of a healthy service; open connections are reset.
    HttpError,
}

/// The fault in force and the share of connections it strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Setting {
    fault: Fault,
    /// Out of 1,000. Each connection draws a number below 1,000 when accepted and suffers the
    /// fault when it is below the share, so a share picks a stable subset of the connections:
    /// some clients' paths break while others' keep working.
    share_permille: u16,
}

impl Setting {
    fn for_connection(&self, draw: u64) -> Fault {
        if draw % 1000 < u64::from(self.share_permille) {
            self.fault
        } else {
            Fault::Pass
        }
    }
}

/// A running proxy. Dropping it stops it and closes every connection through it.
pub struct Proxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    fault: watch::Sender<Setting>,
    connections: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`127.0.0.1:port`), passing
    /// everything, on the current tokio runtime.
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let port = listener.local_addr().expect("a local address").port();
        let (fault, watcher) = watch::channel(Setting {
            fault: Fault::Pass,
            share_permille: 1000,
        });
        let connections = Arc::new(AtomicU64::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            let mut seed = u64::from(port);
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                seed = next(seed);
                tokio::spawn(serve(client, upstream, watcher.clone(), seed));
            }
        });
        Proxy {
            port,
            fault,
            connections,
            task,
        }
    }

    /// The proxy's base URL, for clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches every connection to `fault`; connections already open are affected at once.
    pub fn set(&self, fault: Fault) {
        self.set_share(fault, 1000);
    }

    /// Switches about `share_permille` out of 1,000 connections (a stable subset) to `fault`,
    /// the others passing.
    pub fn set_share(&self, fault: Fault, share_permille: u16) {
        self.fault.send_replace(Setting {
            fault,
            share_permille,
        });
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        self.fault.borrow().fault
    }

    /// Resets every open connection and then passes again: every client reconnects at the same
    /// moment (a reconnect storm, or a load balancer restarting).
    pub async fn reset_all(&self) {
        self.set(Fault::Reset);
        // Long enough for every connection task to see the change and reset its sockets.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.set(Fault::Pass);
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        // Connection tasks end when they see the sender gone.
        self.set(Fault::Reset);
    }
}

/// Closes a socket with RST instead of FIN: a zero linger time makes the kernel drop the
/// connection at once, which is what a crashed middlebox or a rebooted host looks like.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

async fn serve(client: TcpStream, upstream: u16, mut fault: watch::Receiver<Setting>, seed: u64) {
    let _ = client.set_nodelay(true);
    let draw = next(seed);
    let initial = fault.borrow_and_update().for_connection(draw);
    match initial {
        Fault::Reset => return reset(&client),
        Fault::HttpError => return answer_503(client).await,
        Fault::BlackHole => return black_hole(client, fault, draw).await,
        _ => {}
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        // The upstream is down: the client sees its connection reset, as it would without us.
        return reset(&client);
    };
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let carried = Arc::new(AtomicU64::new(0));
    // Either direction ending (a close, a reset, a cut) ends the connection.
    let must_reset = {
        let up = pump(
            (&mut client_read, &mut server_write),
            fault.clone(),
            draw,
            carried.clone(),
            seed,
        );
        let down = pump(
            (&mut server_read, &mut client_write),
            fault,
            draw,
            carried,
            seed ^ 0x9e37_79b9,
        );
        tokio::select! {
            reset = up => reset,
            reset = down => reset,
        }
    };
    if must_reset {
        for (read, write) in [(client_read, client_write), (server_read, server_write)] {
            if let Ok(stream) = read.reunite(write) {
                reset(&stream);
            }
        }
    }
}

/// Copies `from` to `to` under the fault in force, until a side closes (false) or the fault
/// kills the connection (true: both sockets must be reset).
async fn pump(
    (from, to): (&mut OwnedReadHalf, &mut OwnedWriteHalf),
    mut fault: watch::Receiver<Setting>,
    draw: u64,
    carried: Arc<AtomicU64>,
    mut seed: u64,
) -> bool {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let current = fault.borrow_and_update().for_connection(draw);
        match current {
            Fault::Reset | Fault::HttpError => return true,
            Fault::BlackHole => {
                // Swallow whatever arrives and never forward it, until the fault changes; a
                // connection black-holed once stays dead, like one whose packets were dropped.
                loop {
                    tokio::select! {
                        read = from.read(&mut buffer) => match read {
                            Ok(0) | Err(_) => return false,
                            Ok(_) => {}
                        },
                        changed = fault.changed() => {
                            let now = fault.borrow().for_connection(draw);
                            if changed.is_err() || matches!(now, Fault::Reset | Fault::HttpError) {
                                return true;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        let n = tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            },
            changed = fault.changed() => {
                if changed.is_err() {
                    return true;
                }
                continue;
            }
        };
        let chunk = &buffer[..n];
        let total = carried.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let now = fault.borrow().for_connection(draw);
        let sent = match now {
            Fault::Latency { base_ms, jitter_ms } => {
                seed = next(seed);
                let delay = base_ms
                    + if jitter_ms > 0 {
                        seed % (jitter_ms + 1)
                    } else {
                        0
                    };
                tokio::time::sleep(Duration::from_millis(delay)).await;
                to.write_all(chunk).await
            }
            Fault::Bandwidth { bytes_per_s } => {
                let mut result = Ok(());
                for piece in chunk.chunks(1024) {
                    let millis = piece.len() as u64 * 1000 / bytes_per_s.max(1);
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                    result = to.write_all(piece).await;
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
            Fault::Slice { max_bytes } => {
                let mut result = Ok(());
                for piece in chunk.chunks(max_bytes.max(1)) {
                    result = to.write_all(piece).await;
                    if result.is_err() {
                        break;
                    }
                    // Yielding between writes lets each piece leave as its own segment.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                result
            }
            Fault::CutAfter { bytes } if total > bytes => {
                let allowed = n.saturating_sub((total - bytes) as usize);
                let _ = to.write_all(&chunk[..allowed]).await;
                return true;
            }
            _ => to.write_all(chunk).await,
        };
        if sent.is_err() {
            return false;
        }
    }
}

async fn black_hole(client: TcpStream, mut fault: watch::Receiver<Setting>, draw: u64) {
    let (mut read, write) = client.into_split();
    let mut buffer = vec![0u8; 4096];
    loop {
        tokio::select! {
            got = read.read(&mut buffer) => match got {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            changed = fault.changed() => {
                let now = fault.borrow().for_connection(draw);
                if changed.is_err() || matches!(now, Fault::Reset | Fault::HttpError) {
                    if let Ok(stream) = read.reunite(write) {
                        reset(&stream);
                    }
                    return;
                }
            }
        }
    }
}

async fn answer_503(mut client: TcpStream) {
    // Read the request head (bounded) so the client is not reset mid-send before it reads.
    let mut buffer = vec![0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_secs(1), client.read(&mut buffer)).await;
    let _ = client
        .write_all(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 15\r\nconnection: close\r\n\r\nfault injected\n",
        )
        .await;
    let _ = client.shutdown().await;
}

/// A step of a 64-bit linear congruential generator: jitter needs variety, not quality.
fn next(seed: u64) -> u64 {
    seed.wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 1
}
