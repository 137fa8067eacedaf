//! The conversation features through a real socket: whether anyone is online (here and at the
//! peer), and the pre-chat and offline forms' answers stored with their message.

mod support;

use protocol::admin::{FieldKind, FormField, PrechatForm, SiteForms};
use protocol::conversation::FieldAnswer;
use protocol::replication::SiteSetting;
use protocol::{
    ClientFrame, ConversationKind, ErrorCode, Intake, MessageId, Presence, ServerFrame, Session,
    SiteId, VisitorDetails,
};
use support::{new_conversation, Client, TestServer};

/// The next `availability` frame's answer.
async fn availability(client: &mut Client) -> bool {
    client
        .recv_until(|f| match f {
            ServerFrame::Availability { online } => Some(online),
            _ => None,
        })
        .await
}

fn online_in(session: &Session) -> bool {
    match session {
        Session::Visitor { online, .. } => *online,
        other => panic!("a visitor's session, not {other:?}"),
    }
}

#[tokio::test]
async fn visitors_hear_when_an_operator_comes_online_goes_away_and_leaves() {
    let server = TestServer::start().await;
    let (mut visitor, session) = server.visitor(None).await;
    assert!(!online_in(&session), "nobody has a console open");

    let (mut alice, session) = server.operator("alice@example.com").await;
    let Session::Operator {
        presence,
        idle_away_secs,
        ..
    } = session
    else {
        panic!("operator session")
    };
    assert_eq!(presence, Presence::Online, "a first console is online");
    assert_eq!(idle_away_secs, 600);
    assert!(availability(&mut visitor).await);

    // A second console of Alice's takes her state, and hears her choice in the first one.
    let (mut second, session) = server.operator("alice@example.com").await;
    assert!(matches!(
        session,
        Session::Operator {
            presence: Presence::Online,
            ..
        }
    ));
    alice
        .send(&ClientFrame::Presence {
            state: Presence::Away,
        })
        .await;
    assert!(!availability(&mut visitor).await);
    let echoed = second
        .recv_until(|f| match f {
            ServerFrame::Presence { state } => Some(state),
            _ => None,
        })
        .await;
    assert_eq!(echoed, Presence::Away);
    let (_third, session) = server.operator("alice@example.com").await;
    assert!(matches!(
        session,
        Session::Operator {
            presence: Presence::Away,
            ..
        }
    ));

    second
        .send(&ClientFrame::Presence {
            state: Presence::Online,
        })
        .await;
    assert!(availability(&mut visitor).await);
    // A returning visitor's welcome says so at once.
    let (_again, session) = server.visitor(None).await;
    assert!(online_in(&session));

    // Consoles closing: only the last one makes her away.
    drop(alice);
    drop(second);
    drop(_third);
    assert!(!availability(&mut visitor).await);
}

#[tokio::test]
async fn an_agent_counts_only_for_the_sites_they_serve_and_visitors_may_not_set_presence() {
    let server = TestServer::start().await;
    let bob = server
        .state
        .store
        .read(|r| r.admin_operators())
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.email == "bob@example.com")
        .unwrap();
    server
        .state
        .store
        .write(move |w| {
            w.set_operator_setting(
                bob.id,
                protocol::replication::OperatorSetting::Sites(protocol::admin::SiteScope::Only(
                    vec![SiteId("elsewhere".into())],
                )),
            )
        })
        .await
        .unwrap();
    let (_bob, _) = server.operator("bob@example.com").await;
    let (mut visitor, session) = server.visitor(None).await;
    assert!(!online_in(&session), "Bob does not serve acme");
    visitor
        .send(&ClientFrame::Presence {
            state: Presence::Online,
        })
        .await;
    let refused = visitor
        .recv_until(|f| match f {
            ServerFrame::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(refused, ErrorCode::Forbidden);
}

#[tokio::test]
async fn presence_crosses_the_replication_link_and_ends_with_it() {
    let (primary, redundant) = TestServer::start_pair().await;
    support::converged(&primary, &redundant).await;
    let (mut visitor, _) = primary.visitor(None).await;
    // Alice's console is at the other deployment.
    let (alice, _) = redundant.operator("alice@example.com").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !availability(&mut visitor).await {
        assert!(std::time::Instant::now() < deadline);
    }
    drop(alice);
    assert!(!availability(&mut visitor).await, "her last console closed");
    let (_alice, _) = redundant.operator("alice@example.com").await;
    assert!(availability(&mut visitor).await);
    // The other deployment goes: its operators stop counting.
    redundant.shutdown().await;
    assert!(!availability(&mut visitor).await);
}

fn offline_intake(name: &str, email: &str) -> Intake {
    Intake {
        kind: ConversationKind::Offline,
        details: VisitorDetails {
            name: Some(name.into()).filter(|n: &String| !n.is_empty()),
            email: Some(email.into()).filter(|e: &String| !e.is_empty()),
            fields: Vec::new(),
        },
    }
}

/// Sends a message with form answers; returns the reply to it (ack or error).
async fn send_with(
    client: &mut Client,
    conversation_id: protocol::ConversationId,
    body: &str,
    intake: Option<Intake>,
) -> ServerFrame {
    let message_id = MessageId(uuid::Uuid::now_v7());
    client
        .send(&ClientFrame::Send {
            conversation_id,
            message_id,
            body: body.into(),
            intake,
        })
        .await;
    client
        .recv_until(|f| match &f {
            ServerFrame::Ack { message_id: id, .. }
            | ServerFrame::Error {
                message_id: Some(id),
                ..
            } if *id == message_id => Some(f),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn the_offline_form_becomes_an_offline_conversation_with_the_visitors_details() {
    let server = TestServer::start().await;
    let (mut visitor, session) = server.visitor(None).await;
    let Session::Visitor { token, details, .. } = session else {
        panic!("visitor session")
    };
    assert_eq!(details, None);

    // Bad answers: a clear refusal, nothing stored.
    let bad = new_conversation();
    for (intake, why) in [
        (
            offline_intake("Anna", "anna.example.com"),
            "not an e-mail address",
        ),
        (offline_intake("", "anna@example.com"), "Name"),
        (offline_intake("Anna", ""), "E-mail"),
    ] {
        match send_with(&mut visitor, bad, "Please call me", Some(intake)).await {
            ServerFrame::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::Malformed);
                assert!(message.contains(why), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(server
        .state
        .store
        .read(move |r| r.conversation(bad))
        .await
        .unwrap()
        .is_none());

    let offline = new_conversation();
    let reply = send_with(
        &mut visitor,
        offline,
        "Please call me back",
        Some(offline_intake("Anna", "anna@example.com")),
    )
    .await;
    assert!(matches!(reply, ServerFrame::Ack { .. }), "{reply:?}");
    // Answers only come with a conversation's first message.
    let again = send_with(
        &mut visitor,
        offline,
        "More",
        Some(offline_intake("Anna", "anna@example.com")),
    )
    .await;
    assert!(
        matches!(
            again,
            ServerFrame::Error {
                code: ErrorCode::Malformed,
                ..
            }
        ),
        "{again:?}"
    );

    let (_alice, session) = server.operator("alice@example.com").await;
    let Session::Operator { inbox, .. } = session else {
        panic!("operator session")
    };
    let found = inbox
        .iter()
        .find(|c| c.id == offline)
        .expect("in the inbox");
    assert_eq!(found.kind, ConversationKind::Offline);
    let details = found.visitor.clone().expect("the visitor's details");
    assert_eq!(details.name.as_deref(), Some("Anna"));
    assert_eq!(details.email.as_deref(), Some("anna@example.com"));

    // The returning visitor is known.
    let (_back, session) = server.visitor(Some(token)).await;
    let Session::Visitor { details, .. } = session else {
        panic!("visitor session")
    };
    assert_eq!(details.unwrap().name.as_deref(), Some("Anna"));
}

#[tokio::test]
async fn the_prechat_forms_answers_are_checked_against_the_sites_form() {
    let server = TestServer::start().await;
    let forms = SiteForms {
        prechat: PrechatForm {
            enabled: true,
            fields: vec![
                FormField {
                    key: "name".into(),
                    label: "Name".into(),
                    kind: FieldKind::Name,
                    required: true,
                },
                FormField {
                    key: "order".into(),
                    label: "Order number".into(),
                    kind: FieldKind::Text,
                    required: true,
                },
            ],
        },
        ..SiteForms::default()
    };
    server
        .state
        .store
        .write(move |w| w.set_site_setting(&SiteId("acme".into()), SiteSetting::Forms(forms)))
        .await
        .unwrap();
    let (mut visitor, _) = server.visitor(None).await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    let answers = |order: Option<&str>| Intake {
        kind: ConversationKind::Chat,
        details: VisitorDetails {
            name: Some("Anna".into()),
            email: None,
            fields: order
                .map(|o| FieldAnswer {
                    key: "order".into(),
                    label: "Order number".into(),
                    value: o.into(),
                })
                .into_iter()
                .collect(),
        },
    };
    let conversation = new_conversation();
    let missing = send_with(
        &mut visitor,
        conversation,
        "Where is my parcel?",
        Some(answers(None)),
    )
    .await;
    match missing {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::Malformed);
            assert!(message.contains("Order number"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let stored = send_with(
        &mut visitor,
        conversation,
        "Where is my parcel?",
        Some(answers(Some("A-17"))),
    )
    .await;
    assert!(matches!(stored, ServerFrame::Ack { .. }), "{stored:?}");
    let summary = alice.next_conversation().await;
    assert_eq!(summary.kind, ConversationKind::Chat);
    let details = summary.visitor.expect("answers shown to operators");
    assert_eq!(details.fields[0].value, "A-17");
    // An operator cannot send answers.
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    let from_operator = send_with(&mut alice, conversation, "Hi", Some(answers(Some("B")))).await;
    assert!(matches!(
        from_operator,
        ServerFrame::Error {
            code: ErrorCode::Malformed,
            ..
        }
    ));
}
