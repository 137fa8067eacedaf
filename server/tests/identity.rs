//! Identity verification (`identify` in the widget's API): a user whose signature the site's
//! identity secret makes is the same visitor on every device and on both deployments, with
//! their earlier conversations; a forged or malformed identity is refused and reveals nothing;
//! custom attributes reach operators and break no bound.

mod support;

use protocol::replication::SiteSetting;
use protocol::visitor::{UserIdentity, VisitorContextView};
use protocol::{Auth, ClientFrame, ErrorCode, ServerFrame, Session, SiteId};
use support::{converged, new_conversation, Client, TestServer, ORIGIN};

const SECRET: &str = "the-identity-secret-of-acme-0123456789";

async fn give_secret(server: &TestServer) {
    server
        .state
        .store
        .write(|w| {
            w.set_site_setting(
                &SiteId("acme".into()),
                SiteSetting::IdentitySecret(SECRET.into()),
            )
        })
        .await
        .unwrap();
}

fn alice(signature: String) -> UserIdentity {
    UserIdentity {
        user_id: "alice-42".into(),
        signature,
        name: Some("Alice Liddell".into()),
        email: Some("alice@customer.example".into()),
    }
}

/// A visitor's hello as `user`, with `token` if any; returns the connection and the answer.
async fn hello_as(
    server: &TestServer,
    token: Option<String>,
    user: UserIdentity,
) -> (Client, ServerFrame) {
    let mut client = server.connect().await;
    client
        .send(&ClientFrame::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("acme".into()),
                token,
                user: Some(Box::new(user)),
            },
            page_url: Some(format!("{ORIGIN}/account")),
            context: None,
        })
        .await;
    let answer = client.recv().await;
    (client, answer)
}

fn refused(answer: &ServerFrame) -> Option<(ErrorCode, String)> {
    match answer {
        ServerFrame::Error { code, message, .. } => Some((*code, message.clone())),
        _ => None,
    }
}

#[tokio::test]
async fn a_verified_user_is_one_visitor_everywhere_and_a_forged_one_learns_nothing() {
    let server = TestServer::start().await;
    give_secret(&server).await;
    let signature = server::auth::sign_user(SECRET, "alice-42");

    // On the laptop: Alice signs in and writes.
    let (mut laptop, welcome) = hello_as(&server, None, alice(signature.clone())).await;
    let ServerFrame::Welcome {
        session: Session::Visitor { visitor_id, .. },
        ..
    } = welcome
    else {
        panic!("{welcome:?}")
    };
    let expected = server::auth::user_visitor_id(&SiteId("acme".into()), "alice-42");
    assert_eq!(visitor_id, expected);
    let conversation = new_conversation();
    laptop.post(conversation, "where is my order?").await;

    // On her phone, a browser that was an anonymous visitor before: the same visitor, her
    // conversation and her details, whatever the old token said.
    let (_, anonymous) = server.visitor(None).await;
    let Session::Visitor { token: old, .. } = anonymous else {
        panic!()
    };
    let (_, welcome) = hello_as(&server, Some(old.clone()), alice(signature.clone())).await;
    let ServerFrame::Welcome {
        session:
            Session::Visitor {
                visitor_id: on_phone,
                conversations,
                details,
                token,
                ..
            },
        ..
    } = welcome
    else {
        panic!("{welcome:?}")
    };
    assert_eq!(on_phone, expected);
    assert_eq!(
        conversations.iter().map(|c| c.id).collect::<Vec<_>>(),
        [conversation]
    );
    let details = details.expect("her name and e-mail are kept");
    assert_eq!(details.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(details.email.as_deref(), Some("alice@customer.example"));

    // Forgeries: a random signature, Bob's signature under Alice's id, one made with another
    // secret, with or without a token. Each is refused as unauthorised, and no frame of Alice
    // comes before the refusal.
    let forgeries = [
        "ab".repeat(32),
        server::auth::sign_user(SECRET, "bob"),
        server::auth::sign_user("another secret of thirty-two bytes!", "alice-42"),
    ];
    for forged in forgeries {
        for token in [None, Some(old.clone())] {
            let (mut client, answer) = hello_as(&server, token, alice(forged.clone())).await;
            let (code, message) = refused(&answer).unwrap_or_else(|| panic!("{answer:?}"));
            assert_eq!(code, ErrorCode::Unauthorized);
            assert!(message.contains("signature"), "{message}");
            assert!(!message.contains("alice"), "{message}");
            assert!(client.closed().await.is_some());
        }
    }
    // Malformed identities are named as such.
    let mut bad = alice("NOT-HEX".into());
    let (_, answer) = hello_as(&server, None, bad.clone()).await;
    assert_eq!(refused(&answer).map(|r| r.0), Some(ErrorCode::Malformed));
    bad.signature = signature.clone();
    bad.email = Some("not an address".into());
    let (_, answer) = hello_as(&server, None, bad).await;
    assert_eq!(refused(&answer).map(|r| r.0), Some(ErrorCode::Malformed));

    // Operators see who she is; a later page that does not identify her (her token alone)
    // keeps that.
    let mut later = server.connect().await;
    later
        .send(&ClientFrame::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            auth: Auth::Visitor {
                site_id: SiteId("acme".into()),
                token: Some(token),
                user: None,
            },
            page_url: Some(format!("{ORIGIN}/")),
            context: Some(Box::default()),
        })
        .await;
    assert!(matches!(later.welcome().await, Session::Visitor { .. }));
    let admin = server.login("alice@example.com").await.token;
    let path = format!("/v1/visitors/{expected}/context");
    let (_, json) = server.http("GET", &path, Some(&admin), None).await;
    let view: VisitorContextView = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        view.context.and_then(|c| c.user_id).as_deref(),
        Some("alice-42"),
        "{json}"
    );
}

#[tokio::test]
async fn a_site_without_a_secret_verifies_nobody() {
    let server = TestServer::start().await;
    let signature = server::auth::sign_user("", "alice-42");
    let (_, answer) = hello_as(&server, None, alice(signature)).await;
    let (code, message) = refused(&answer).unwrap();
    assert_eq!(code, ErrorCode::Unauthorized);
    assert!(message.contains("identity secret"), "{message}");
}

#[tokio::test]
async fn attributes_reach_operators_within_their_bounds() {
    let server = TestServer::start().await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { visitor_id, .. } = session else {
        panic!()
    };
    let attributes = |pairs: &[(&str, &str)]| ClientFrame::Attributes {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    visitor
        .send(&attributes(&[("plan", "pro"), ("cart.total", "129.50")]))
        .await;
    // Bad keys, oversized values and control characters are refused with the reason.
    let huge = "x".repeat(protocol::visitor::MAX_ATTRIBUTE_VALUE_BYTES + 1);
    for bad in [
        attributes(&[("has space", "1")]),
        attributes(&[("note", &huge)]),
        attributes(&[("note", "line\u{7}bell")]),
    ] {
        visitor.send(&bad).await;
        let answer = visitor.recv().await;
        let (code, message) = refused(&answer).unwrap_or_else(|| panic!("{answer:?}"));
        assert_eq!(code, ErrorCode::Malformed);
        assert!(message.starts_with("setAttributes: "), "{message}");
    }
    let too_many: Vec<(String, String)> = (0..=protocol::visitor::MAX_ATTRIBUTES)
        .map(|i| (format!("k{i}"), "v".into()))
        .collect();
    visitor
        .send(&ClientFrame::Attributes {
            attributes: too_many.into_iter().collect(),
        })
        .await;
    assert_eq!(
        refused(&visitor.recv().await).map(|r| r.0),
        Some(ErrorCode::Malformed)
    );

    let admin = server.login("alice@example.com").await.token;
    let path = format!("/v1/visitors/{visitor_id}/context");
    let (_, json) = server.http("GET", &path, Some(&admin), None).await;
    let view: VisitorContextView = serde_json::from_value(json.clone()).unwrap();
    let stored = view.context.unwrap().attributes;
    assert_eq!(
        stored.get("plan").map(String::as_str),
        Some("pro"),
        "{json}"
    );
    assert_eq!(stored.len(), 2, "nothing refused was stored: {json}");

    // Operators have no attributes to set.
    let (mut operator, _) = server.operator("alice@example.com").await;
    operator.send(&attributes(&[("plan", "free")])).await;
    assert_eq!(
        refused(&operator.recv().await).map(|r| r.0),
        Some(ErrorCode::Forbidden)
    );
}

#[tokio::test]
async fn a_user_who_signs_in_on_both_sides_of_a_split_is_one_visitor_with_both_conversations() {
    let (primary, redundant, to_primary, to_redundant) =
        TestServer::start_pair_through_proxies().await;
    give_secret(&primary).await;
    converged(&primary, &redundant).await;
    to_primary.cut();
    to_redundant.cut();
    let signature = server::auth::sign_user(SECRET, "alice-42");
    let mut conversations = Vec::new();
    for side in [&primary, &redundant] {
        let (mut client, welcome) = hello_as(side, None, alice(signature.clone())).await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "{welcome:?}"
        );
        let conversation = new_conversation();
        client.post(conversation, "written during the split").await;
        conversations.push(conversation);
    }
    to_primary.heal();
    to_redundant.heal();
    converged(&primary, &redundant).await;
    conversations.sort();
    for side in [&primary, &redundant] {
        let (_, welcome) = hello_as(side, None, alice(signature.clone())).await;
        let ServerFrame::Welcome {
            session:
                Session::Visitor {
                    conversations: seen,
                    ..
                },
            ..
        } = welcome
        else {
            panic!("{welcome:?}")
        };
        let mut seen: Vec<_> = seen.iter().map(|c| c.id).collect();
        seen.sort();
        assert_eq!(seen, conversations);
    }
}
