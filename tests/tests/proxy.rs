//! The fault-injecting proxy does what each mode says, to new connections and to open ones.

use std::time::Duration;
use tests::proxy::{Fault, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An echo server on a free loopback port.
async fn echo() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0 || socket.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Sends `data` and reads until as many bytes came back, the connection ended, or 1 s passed.
async fn round_trip(socket: &mut TcpStream, data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    socket.write_all(data).await?;
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    while got.len() < data.len() {
        match tokio::time::timeout(Duration::from_secs(1), socket.read(&mut buffer)).await {
            Err(_) => break,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buffer[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(got)
}

async fn connect(proxy: &Proxy) -> TcpStream {
    TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap()
}

#[tokio::test]
async fn each_mode_does_what_it_says() {
    let proxy = Proxy::start(echo().await).await;
    let mut open = connect(&proxy).await;
    assert_eq!(round_trip(&mut open, b"hello").await.unwrap(), b"hello");

    // A black hole swallows bytes on the open connection and never answers or closes.
    proxy.set(Fault::BlackHole);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(round_trip(&mut open, b"lost").await.unwrap(), b"");
    let mut fresh = connect(&proxy).await;
    assert_eq!(round_trip(&mut fresh, b"lost too").await.unwrap(), b"");

    // Reset strikes the black-holed connections too.
    proxy.set(Fault::Reset);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reset = round_trip(&mut open, b"x").await;
    assert!(
        matches!(&reset, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
            || matches!(&reset, Ok(b) if b.is_empty()),
        "{reset:?}"
    );
    let mut refused = connect(&proxy).await;
    assert!(round_trip(&mut refused, b"x")
        .await
        .map_or(true, |b| b.is_empty()));

    // Slicing delivers everything, in order.
    proxy.set(Fault::Slice { max_bytes: 3 });
    let mut sliced = connect(&proxy).await;
    let text: Vec<u8> = (0..200u8).collect();
    assert_eq!(round_trip(&mut sliced, &text).await.unwrap(), text);

    // Cut after N bytes: both directions count, and the connection ends there.
    proxy.set(Fault::CutAfter { bytes: 30 });
    let mut cut = connect(&proxy).await;
    let got = round_trip(&mut cut, &[7u8; 20]).await.unwrap_or_default();
    assert!(
        got.len() <= 10,
        "only 30 bytes may pass both ways, got {}",
        got.len()
    );

    // Latency delays but delivers.
    proxy.set(Fault::Latency {
        base_ms: 100,
        jitter_ms: 50,
    });
    let mut slow = connect(&proxy).await;
    let started = std::time::Instant::now();
    assert_eq!(round_trip(&mut slow, b"late").await.unwrap(), b"late");
    assert!(started.elapsed() >= Duration::from_millis(200));

    // An HTTP error for every new connection.
    proxy.set(Fault::HttpError);
    let mut http = connect(&proxy).await;
    http.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");

    // A share of zero strikes nobody.
    proxy.set_share(Fault::Reset, 0);
    let mut spared = connect(&proxy).await;
    assert_eq!(round_trip(&mut spared, b"fine").await.unwrap(), b"fine");
    assert!(proxy.connections() >= 8);
}
