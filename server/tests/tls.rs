//! TLS between the data centres: deployments serve HTTPS and WSS from certificate files, verify
//! their peer against the system roots plus a CA file (here a private CA the test makes with
//! rcgen), and refuse to send a secret over plain HTTP to an address that is not loopback.

mod support;

use protocol::ServerFrame;
use std::path::{Path, PathBuf};
use support::{converged, visitor_hello, TestServer};

/// A private CA and a certificate it signed for `127.0.0.1` and `localhost`, as PEM files in
/// `dir`: (CA, certificate, key).
fn private_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// Two deployments serving TLS and replicating over `wss://`, the peer verified with `ca`
/// (`None`: the system roots only, which do not know the private CA).
async fn tls_pair(
    pki: &(PathBuf, PathBuf, PathBuf),
    trust: Option<&Path>,
) -> (TestServer, TestServer) {
    let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url_a = format!("https://{}", a.local_addr().unwrap());
    let url_b = format!("https://{}", b.local_addr().unwrap());
    let tls = |c: &mut server::config::Config| {
        c.tls_cert_file = Some(pki.1.clone());
        c.tls_key_file = Some(pki.2.clone());
        c.tls_ca_file = trust.map(Path::to_owned);
    };
    let primary = TestServer::start_on(a, tempfile::tempdir().unwrap(), true, |c| {
        support::pair_config(c, "primary", &url_b);
        tls(c);
    })
    .await;
    let redundant = TestServer::start_on(b, tempfile::tempdir().unwrap(), false, |c| {
        support::pair_config(c, "redundant", &url_a);
        tls(c);
    })
    .await;
    (primary, redundant)
}

#[tokio::test]
async fn a_pair_replicates_over_wss_with_a_private_ca_and_clients_chat_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = private_pki(dir.path());
    let (primary, redundant) = tls_pair(&pki, Some(&pki.0)).await;
    converged(&primary, &redundant).await;

    // A client that trusts the CA talks to the deployment over WSS.
    let trust = daemon::tls::client_config(Some(&pki.0)).unwrap();
    let url = format!("wss://{}{}", primary.address, protocol::WS_PATH);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("origin", support::ORIGIN.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        true,
        Some(tokio_tungstenite::Connector::Rustls(trust.clone())),
    )
    .await
    .expect("a WSS connection verified by the private CA");
    use futures_util::{SinkExt, StreamExt};
    let hello = visitor_hello("acme", None).encode();
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(hello.into()))
        .await
        .unwrap();
    let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(welcome))) = socket.next().await
    else {
        panic!("a welcome")
    };
    assert!(matches!(
        ServerFrame::decode(&welcome).unwrap(),
        ServerFrame::Welcome { .. }
    ));

    // HTTPS with the services' client, and the replication status over it.
    let client = daemon::http::HttpClient::with_tls(trust);
    let answer = client
        .call(
            daemon::http::Method::GET,
            &format!("https://{}/v1/replication/status", redundant.address),
            Some("replication secret for tests"),
            None,
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(status["peer_reachable"], true, "{status}");
}

#[tokio::test]
async fn a_peer_whose_certificate_nobody_vouches_for_is_not_replicated_with() {
    let dir = tempfile::tempdir().unwrap();
    let pki = private_pki(dir.path());
    let (primary, redundant) = tls_pair(&pki, None).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (_, status) = redundant
        .http(
            "GET",
            "/v1/replication/status",
            Some("replication secret for tests"),
            None,
        )
        .await;
    assert_eq!(status["peer_reachable"], false, "{status}");
    let site = redundant
        .state
        .store
        .read(|r| r.site(&protocol::SiteId("acme".into())))
        .await
        .unwrap();
    assert!(site.is_none(), "nothing came over an unverified link");
    drop(primary);
}

#[test]
fn a_secret_bound_for_plain_http_beyond_loopback_is_refused_unless_allowed() {
    let config = |peer: &str, allow: bool| server::config::Config {
        peer_url: Some(peer.into()),
        replication_secret: Some("replication secret for tests".into()),
        allow_plain_http_secrets: allow,
        ..Default::default()
    };
    use daemon::config::Layered;
    let refused = config("http://chat-b.example:8080", false).validate();
    assert!(
        format!("{:?}", refused.unwrap_err()).contains("allow_plain_http_secrets"),
        "a clear sentence"
    );
    assert!(config("http://chat-b.example:8080", true)
        .validate()
        .is_ok());
    assert!(config("https://chat-b.example", false).validate().is_ok());
    assert!(config("http://127.0.0.1:8081", false).validate().is_ok());
}
