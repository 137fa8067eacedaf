//! The conversation features through a real socket: whether anyone is online (here and at the
//! peer), and the pre-chat and offline forms' answers stored with their message.

mod support;

use std::time::Duration;

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
    server
        .restrict_operator("bob@example.com", &["elsewhere"])
        .await;
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
    // The other deployment goes: its operators still count for a moment (their consoles fail
    // over here meanwhile, and visitors should not see "away" in between), then stop counting.
    redundant.shutdown().await;
    // A repeated "online" (the peer's list heard once more before the link went) is no change;
    // only "away" within the grace would be.
    let away = async { while availability(&mut visitor).await {} };
    let soon = tokio::time::timeout(Duration::from_secs(2), away).await;
    assert!(soon.is_err(), "the visitor saw away within the grace");
    tokio::time::sleep(Duration::from_secs(2)).await;
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
            attachment: None,
            private: false,
        })
        .await;
    client.reply_to(message_id).await
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

/// The next refusal's code and sentence.
async fn refusal(client: &mut Client) -> (ErrorCode, String) {
    client
        .recv_until(|f| match f {
            ServerFrame::Error { code, message, .. } => Some((code, message)),
            _ => None,
        })
        .await
}

/// The next summary of `conversation` matching `pick`.
async fn summary_until(
    client: &mut Client,
    conversation: protocol::ConversationId,
    pick: impl Fn(&protocol::ConversationSummary) -> bool,
) -> protocol::ConversationSummary {
    client
        .recv_until(|f| match f {
            ServerFrame::Conversation { conversation: c } if c.id == conversation && pick(&c) => {
                Some(c)
            }
            _ => None,
        })
        .await
}

#[tokio::test]
async fn read_marks_move_forward_only_and_reach_the_other_side() {
    use protocol::conversation::{Rating, RatingScale};
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    let conversation = new_conversation();
    let (_, question) = visitor.post(conversation, "Is it in stock?").await;
    let ServerFrame::Ack {
        message: question, ..
    } = question
    else {
        panic!("ack")
    };
    alice
        .send(&ClientFrame::Accept {
            conversation_id: conversation,
        })
        .await;
    // Alice reads the question: the visitor's summary says so.
    alice
        .send(&ClientFrame::Read {
            conversation_id: conversation,
            up_to: question.hlc,
        })
        .await;
    let seen = summary_until(&mut visitor, conversation, |c| c.operator_read > 0).await;
    assert_eq!(seen.operator_read, question.hlc);
    // A mark beyond the newest message is cut back to it; an older one changes nothing.
    alice
        .send(&ClientFrame::Read {
            conversation_id: conversation,
            up_to: u64::MAX,
        })
        .await;
    alice
        .send(&ClientFrame::Read {
            conversation_id: conversation,
            up_to: 1,
        })
        .await;
    let (_, reply) = alice.post(conversation, "Yes, two left").await;
    let ServerFrame::Ack { message: reply, .. } = reply else {
        panic!("ack")
    };
    assert!(reply.hlc > question.hlc);
    let stored = server
        .state
        .store
        .read(move |r| r.conversation(conversation))
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.operator_read > question.hlc && stored.operator_read < reply.hlc,
        "up to the newest message then (the joined notice), not beyond"
    );
    // The visitor reads the reply: Alice sees it.
    visitor
        .send(&ClientFrame::Read {
            conversation_id: conversation,
            up_to: reply.hlc,
        })
        .await;
    let read = summary_until(&mut alice, conversation, |c| c.visitor_read > 0).await;
    assert_eq!(read.visitor_read, reply.hlc);
    // Someone else's conversation: refused.
    let (mut stranger, _) = server.visitor(None).await;
    stranger
        .send(&ClientFrame::Read {
            conversation_id: conversation,
            up_to: reply.hlc,
        })
        .await;
    let refused = stranger
        .recv_until(|f| match f {
            ServerFrame::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(refused, ErrorCode::Forbidden);

    // Ratings: only once the chat ended, only by its visitor, only on the site's scale.
    let good = Rating {
        scale: RatingScale::GoodBad,
        score: 1,
        comment: Some("Quick and kind".into()),
    };
    let rate = |rating: Rating| ClientFrame::Rate {
        conversation_id: conversation,
        rating,
    };
    // The visitor ends the chat: everyone sees it closed, with a notice.
    visitor
        .send(&ClientFrame::Close {
            conversation_id: conversation,
        })
        .await;
    let notice = alice.next_message().await;
    assert_eq!(notice.body, "The visitor ended the chat");
    summary_until(&mut alice, conversation, |c| {
        c.state == protocol::ConversationState::Closed
    })
    .await;
    for (bad, why) in [
        (
            Rating {
                score: 7,
                ..good.clone()
            },
            "from 0 to 1",
        ),
        (
            Rating {
                scale: RatingScale::Stars,
                score: 4,
                comment: None,
            },
            "good_bad",
        ),
        (
            Rating {
                comment: Some("x".repeat(1001)),
                ..good.clone()
            },
            "at most 1000",
        ),
    ] {
        visitor.send(&rate(bad)).await;
        let (code, message) = refusal(&mut visitor).await;
        assert_eq!(code, ErrorCode::Malformed);
        assert!(message.contains(why), "{message}");
    }
    alice.send(&rate(good.clone())).await;
    assert_eq!(refusal(&mut alice).await.0, ErrorCode::Forbidden);
    visitor.send(&rate(good.clone())).await;
    let rated = summary_until(&mut alice, conversation, |c| c.rating.is_some()).await;
    assert_eq!(rated.rating, Some(good.clone()));
    let mine = summary_until(&mut visitor, conversation, |c| c.rating.is_some()).await;
    assert_eq!(mine.rating, Some(good));
}

#[tokio::test]
async fn a_console_that_says_its_operator_chose_away_never_counts_as_online() {
    let server = TestServer::start().await;
    let (mut visitor, session) = server.visitor(None).await;
    assert!(!online_in(&session));
    let login = server.login("alice@example.com").await;
    let mut console = server.connect().await;
    console
        .send(&ClientFrame::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            auth: protocol::Auth::Operator {
                token: login.token,
                presence: Some(Presence::Away),
            },
            page_url: None,
            context: None,
        })
        .await;
    let Session::Operator { presence, .. } = console.welcome().await else {
        panic!("operator session")
    };
    assert_eq!(presence, Presence::Away);
    console
        .send(&ClientFrame::Presence {
            state: Presence::Online,
        })
        .await;
    // The first availability frame the visitor hears is the choice of online, not a flicker.
    assert!(availability(&mut visitor).await);
}

#[tokio::test]
async fn transcripts_by_mail_are_checked_limited_and_queued_with_what_caused_them() {
    // A mail server nobody listens on: mails queue (and retry); the rules are what is tested
    // here, delivery through a real server in `tests/tests/browser_conversation.rs`.
    let server = TestServer::start_with(|c| c.smtp_url = Some("smtp://127.0.0.1:9".into())).await;
    let forms = SiteForms {
        notify_email: Some("support@acme.example".into()),
        ..SiteForms::default()
    };
    server
        .state
        .store
        .write(move |w| w.set_site_setting(&SiteId("acme".into()), SiteSetting::Forms(forms)))
        .await
        .unwrap();
    let (mut visitor, _) = server.visitor(None).await;
    let offline = new_conversation();
    let reply = send_with(
        &mut visitor,
        offline,
        "Call me back",
        Some(offline_intake("Anna", "anna@example.com")),
    )
    .await;
    assert!(matches!(reply, ServerFrame::Ack { .. }));
    let queued = server
        .state
        .store
        .read(|r| r.mail_due(i64::MAX, 10))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].to, "support@acme.example");
    assert_eq!(queued[0].reply_to.as_deref(), Some("anna@example.com"));
    assert!(queued[0].body.contains("Call me back"));

    let ask = |email: &str| ClientFrame::EmailTranscript {
        conversation_id: offline,
        email: email.into(),
    };
    visitor.send(&ask("anna@")).await;
    let (code, message) = refusal(&mut visitor).await;
    assert_eq!(code, ErrorCode::Malformed);
    assert!(message.contains("not an e-mail address"), "{message}");
    for _ in 0..3 {
        visitor.send(&ask("anna@example.com")).await;
        let done = visitor
            .recv_until(|f| match f {
                ServerFrame::TranscriptEmailed { conversation_id } => Some(conversation_id),
                ServerFrame::Error { message, .. } => panic!("{message}"),
                _ => None,
            })
            .await;
        assert_eq!(done, offline);
    }
    visitor.send(&ask("anna@example.com")).await;
    assert_eq!(refusal(&mut visitor).await.0, ErrorCode::TooManyRequests);
    // Someone else's conversation, or an operator: refused.
    let (mut stranger, _) = server.visitor(None).await;
    stranger.send(&ask("eve@example.com")).await;
    assert_eq!(refusal(&mut stranger).await.0, ErrorCode::Forbidden);
    let (mut alice, _) = server.operator("alice@example.com").await;
    alice.send(&ask("alice@example.com")).await;
    assert_eq!(refusal(&mut alice).await.0, ErrorCode::Forbidden);
    let queued = server
        .state
        .store
        .read(|r| r.mail_due(i64::MAX, 10))
        .await
        .unwrap();
    assert_eq!(queued.len(), 4, "one notice and three transcripts");

    // Without a mail server, the widget is told to download instead.
    let plain = TestServer::start().await;
    let (mut visitor, _) = plain.visitor(None).await;
    let conversation = new_conversation();
    visitor.post(conversation, "hi").await;
    visitor
        .send(&ClientFrame::EmailTranscript {
            conversation_id: conversation,
            email: "anna@example.com".into(),
        })
        .await;
    let (code, message) = refusal(&mut visitor).await;
    assert_eq!(code, ErrorCode::Conflict);
    assert!(message.contains("download"), "{message}");
}

#[tokio::test]
async fn a_sync_tells_the_conversations_state_before_its_messages() {
    // A console that reconnects after a failover syncs its open panes: it must learn what
    // changed while it was away (here: the visitor rated the ended chat), not only messages.
    let server = TestServer::start().await;
    let (mut visitor, _) = server.visitor(None).await;
    let conversation = new_conversation();
    visitor.post(conversation, "Thanks, bye").await;
    visitor
        .send(&ClientFrame::Close {
            conversation_id: conversation,
        })
        .await;
    let rating = protocol::conversation::Rating {
        scale: protocol::conversation::RatingScale::GoodBad,
        score: 1,
        comment: None,
    };
    visitor
        .send(&ClientFrame::Rate {
            conversation_id: conversation,
            rating: rating.clone(),
        })
        .await;
    summary_until(&mut visitor, conversation, |c| c.rating.is_some()).await;
    let (mut alice, _) = server.operator("alice@example.com").await;
    alice
        .send(&ClientFrame::Sync {
            conversation_id: conversation,
            after_seq: 0,
        })
        .await;
    match alice.recv().await {
        ServerFrame::Conversation { conversation: c } => {
            assert_eq!(c.id, conversation);
            assert_eq!(c.rating, Some(rating));
        }
        other => panic!("expected the summary first, got {other:?}"),
    }
    assert!(matches!(alice.recv().await, ServerFrame::History { .. }));
}
