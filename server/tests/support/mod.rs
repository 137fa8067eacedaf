//! A real deployment on port 0 with a temporary data directory, plus native WebSocket clients.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures_util::{SinkExt, StreamExt};
use protocol::{
    Auth, ClientFrame, ConversationId, LoginResponse, MessageId, OperatorRole, ServerFrame,
    Session, SiteId, PROTOCOL_VERSION,
};
use server::config::Config;
use server::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower::ServiceExt;

pub const ORIGIN: &str = "https://acme.example";
pub const PASSWORD: &str = "correct horse battery";

/// A running deployment.
pub struct TestServer {
    pub address: SocketAddr,
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts a deployment with a site `acme` (allowing [`ORIGIN`]) and an operator
    /// `alice@example.com`, and `bob@example.com`, both with [`PASSWORD`].
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, tempfile::tempdir().unwrap(), true, tune).await
    }

    /// Two linked deployments, `primary` and `redundant`, replicating to each other. Only the
    /// primary is seeded with the site and the operators: the redundant one gets them by
    /// replication.
    pub async fn start_pair() -> (TestServer, TestServer) {
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url_a = format!("http://{}", a.local_addr().unwrap());
        let url_b = format!("http://{}", b.local_addr().unwrap());
        let primary = Self::start_on(a, tempfile::tempdir().unwrap(), true, |c| {
            pair_config(c, "primary", &url_b)
        })
        .await;
        let redundant = Self::start_on(b, tempfile::tempdir().unwrap(), false, |c| {
            pair_config(c, "redundant", &url_a)
        })
        .await;
        (primary, redundant)
    }

    /// Starts a deployment on `listener` with `data_dir`, seeding the site and operators if asked.
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        data_dir: tempfile::TempDir,
        seed: bool,
        tune: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config {
            data_dir: data_dir.path().to_owned(),
            token_secret: Some("test secret of sixteen+".into()),
            ..Config::default()
        };
        tune(&mut config);
        let state = AppState::open(config).unwrap();
        if seed {
            seed_directory(&state).await;
        }
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestServer {
            address,
            state,
            data_dir,
            stop: Some(stop),
            task,
        }
    }

    /// Sends an HTTP request through the router (no socket) and returns status and JSON body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, serde_json::Value) {
        http_with(self.state.clone(), method, path, token, body).await
    }

    pub async fn login(&self, email: &str) -> LoginResponse {
        let body = serde_json::json!({ "email": email, "password": PASSWORD }).to_string();
        let (status, json) = self
            .http("POST", "/v1/operators/login", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        serde_json::from_value(json).unwrap()
    }

    /// A raw WebSocket connection with the demo origin.
    pub async fn connect(&self) -> Client {
        self.connect_from(ORIGIN).await
    }

    /// A raw WebSocket connection from a page of `origin`.
    pub async fn connect_from(&self, origin: &str) -> Client {
        self.connect_with_origin(Some(origin.as_bytes())).await
    }

    /// A raw WebSocket connection whose upgrade carries `origin` as raw bytes, or no `Origin`.
    /// The upgrade request is written by hand because tungstenite's client sends only visible
    /// ASCII header values, and a test must be able to send what an attacker would.
    pub async fn connect_with_origin(&self, origin: Option<&[u8]>) -> Client {
        self.connect_with_headers(origin, "").await
    }

    /// Like [`TestServer::connect_with_origin`], with extra header lines (each ending in
    /// `\r\n`), such as a proxy's `X-Forwarded-For`.
    pub async fn connect_with_headers(&self, origin: Option<&[u8]>, extra: &str) -> Client {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(self.address).await.unwrap();
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            protocol::WS_PATH,
            self.address
        )
        .into_bytes();
        if let Some(origin) = origin {
            request.extend_from_slice(b"Origin: ");
            request.extend_from_slice(origin);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(extra.as_bytes());
        request.extend_from_slice(b"\r\n");
        tcp.write_all(&request).await.unwrap();
        // The answer's head, read a byte at a time so that no frame after it is consumed.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let socket = WebSocketStream::from_raw_socket(
            MaybeTlsStream::Plain(tcp),
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await;
        Client { socket }
    }

    pub async fn visitor(&self, token: Option<String>) -> (Client, Session) {
        let mut client = self.connect().await;
        client
            .send(&ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                auth: Auth::Visitor {
                    site_id: SiteId("acme".into()),
                    token,
                    user: None,
                },
                page_url: Some(format!("{ORIGIN}/pricing")),
                context: None,
            })
            .await;
        let session = client.welcome().await;
        (client, session)
    }

    pub async fn operator(&self, email: &str) -> (Client, Session) {
        let login = self.login(email).await;
        let mut client = self.connect().await;
        client.send(&operator_hello(login.token)).await;
        let session = client.welcome().await;
        (client, session)
    }

    /// Lets the operator `email` serve only `sites` (an admin's edit).
    pub async fn restrict_operator(&self, email: &str, sites: &[&str]) {
        let email = email.to_owned();
        let operator = self
            .state
            .store
            .read(|r| r.admin_operators())
            .await
            .unwrap()
            .into_iter()
            .find(|o| o.email == email)
            .unwrap();
        let scope =
            protocol::admin::SiteScope::Only(sites.iter().map(|s| SiteId((*s).into())).collect());
        self.state
            .store
            .write(move |w| {
                w.set_operator_setting(
                    operator.id,
                    protocol::replication::OperatorSetting::Sites(scope),
                )
            })
            .await
            .unwrap();
    }

    /// Asks the deployment to shut down gracefully, waits for it, and hands back its data
    /// directory so a test can reopen the database.
    pub async fn shutdown(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("shutdown in time")
            .unwrap()
            .unwrap();
        self.data_dir
    }
}

pub fn pair_config(config: &mut Config, name: &str, peer: &str) {
    // The replication tests write hundreds of messages on one connection, far faster than
    // people type (the limit itself is tested in floods.rs).
    config.messages_per_minute_per_connection = 100_000;
    config.deployment = name.into();
    config.peer_url = Some(peer.into());
    config.replication_secret = Some("replication secret for tests".into());
}

/// The site `acme` (allowing [`ORIGIN`]) and the operators Alice (admin) and Bob (agent).
async fn seed_directory(state: &AppState) {
    let hash = server::auth::hash_password(PASSWORD);
    state
        .store
        .write(move |conn| {
            conn.upsert_site(&server::store::Site {
                id: SiteId("acme".into()),
                name: "Acme".into(),
                allowed_origins: vec![ORIGIN.into()],
            })?;
            conn.add_operator(
                "alice@example.com",
                "Alice",
                &hash,
                OperatorRole::Admin,
                false,
            )?;
            conn.add_operator("bob@example.com", "Bob", &hash, OperatorRole::Agent, false)
        })
        .await
        .unwrap();
}

/// Waits (at most 20 s) until the two deployments hold the same data, failing with the
/// differences otherwise.
pub async fn converged(a: &TestServer, b: &TestServer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let differences =
            server::store::sync_check::compare(a.data_dir.path(), b.data_dir.path()).unwrap();
        if differences.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deployments did not converge:\n{}",
            differences.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A native WebSocket client.
pub struct Client {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(frame.encode()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send(WsMessage::Text(text.into()))
            .await
            .unwrap();
    }

    /// The next server frame, failing the test after 5 s.
    pub async fn recv(&mut self) -> ServerFrame {
        ServerFrame::decode(&self.recv_text().await).unwrap()
    }

    /// The next server frame as the text on the wire, failing the test after 5 s.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), self.socket.next())
                .await
                .expect("a frame in time");
            match next {
                Some(Ok(WsMessage::Text(text))) => return text.to_string(),
                Some(Ok(WsMessage::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// The next frame matching `pick`, skipping others (such as inbox updates).
    pub async fn recv_until<T>(&mut self, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
        loop {
            if let Some(found) = pick(self.recv().await) {
                return found;
            }
        }
    }

    /// The next `message` frame's message.
    pub async fn next_message(&mut self) -> protocol::Message {
        self.recv_until(|f| match f {
            ServerFrame::Message { message } => Some(message),
            _ => None,
        })
        .await
    }

    /// The next `conversation` frame's summary.
    pub async fn next_conversation(&mut self) -> protocol::ConversationSummary {
        self.recv_until(|f| match f {
            ServerFrame::Conversation { conversation } => Some(conversation),
            _ => None,
        })
        .await
    }

    pub async fn welcome(&mut self) -> Session {
        match self.recv().await {
            ServerFrame::Welcome { session, .. } => session,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Waits for the connection to be closed by the server and returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        self.closed_within(Duration::from_secs(5)).await
    }

    /// Like [`Client::closed`], waiting at most `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> Option<u16> {
        loop {
            match tokio::time::timeout(limit, self.socket.next())
                .await
                .expect("close in time")
            {
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }

    pub async fn post(
        &mut self,
        conversation_id: ConversationId,
        body: &str,
    ) -> (MessageId, ServerFrame) {
        let message_id = MessageId(uuid::Uuid::now_v7());
        self.send(&ClientFrame::Send {
            conversation_id,
            message_id,
            body: body.into(),
            intake: None,
            attachment: None,
            private: false,
        })
        .await;
        (message_id, self.reply_to(message_id).await)
    }

    /// The deployment's answer to the message `message_id`: its `ack`, or the error naming it.
    pub async fn reply_to(&mut self, message_id: MessageId) -> ServerFrame {
        self.recv_until(|f| match &f {
            ServerFrame::Ack { message_id: id, .. }
            | ServerFrame::Error {
                message_id: Some(id),
                ..
            } if *id == message_id => Some(f),
            _ => None,
        })
        .await
    }
}

/// Sends an HTTP request through the router of `state` (no socket) and returns status and JSON
/// body. Owns what it needs, so requests can run concurrently in spawned tasks.
pub async fn http_with(
    state: AppState,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let response = server::app(state).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
            String::from_utf8_lossy(&bytes).into(),
        ))
    };
    (status, json)
}

/// A new visitor's `hello` for `site_id` from `page_url`.
pub fn visitor_hello(site_id: &str, page_url: Option<String>) -> ClientFrame {
    ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        auth: Auth::Visitor {
            site_id: SiteId(site_id.into()),
            token: None,
            user: None,
        },
        page_url,
        context: None,
    }
}

/// An operator's `hello` with a session token.
pub fn operator_hello(token: String) -> ClientFrame {
    ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        auth: Auth::Operator {
            token,
            presence: None,
        },
        page_url: None,
        context: None,
    }
}

pub fn new_conversation() -> ConversationId {
    ConversationId(uuid::Uuid::now_v7())
}

/// A TCP proxy that can cut and heal a link, placed between two deployments' replication links.
pub struct Proxy {
    /// Where the proxy listens.
    pub address: std::net::SocketAddr,
    /// Whether new connections are forwarded.
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The forwarding tasks of live connections, aborted by [`Proxy::cut`].
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    /// Forwards every connection to `target` until cut.
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            address: listener.local_addr().unwrap(),
            open: Default::default(),
            links: Default::default(),
        };
        proxy.open.store(true, std::sync::atomic::Ordering::SeqCst);
        let (open, links) = (proxy.open.clone(), proxy.links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // Dropping the socket refuses the connection.
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        });
        proxy
    }

    /// Breaks every live connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Forwards connections again.
    pub fn heal(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl TestServer {
    /// Like [`TestServer::start_pair`], but each deployment reaches the other through a [`Proxy`]
    /// (the first proxy leads to the primary, the second to the redundant deployment).
    pub async fn start_pair_through_proxies() -> (TestServer, TestServer, Proxy, Proxy) {
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to_a = Proxy::start(a.local_addr().unwrap()).await;
        let to_b = Proxy::start(b.local_addr().unwrap()).await;
        let (url_to_a, url_to_b) = (
            format!("http://{}", to_a.address),
            format!("http://{}", to_b.address),
        );
        let primary = Self::start_on(a, tempfile::tempdir().unwrap(), true, |c| {
            pair_config(c, "primary", &url_to_b)
        })
        .await;
        let redundant = Self::start_on(b, tempfile::tempdir().unwrap(), false, |c| {
            pair_config(c, "redundant", &url_to_a)
        })
        .await;
        (primary, redundant, to_a, to_b)
    }
}
