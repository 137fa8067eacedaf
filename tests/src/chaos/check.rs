//! The checker: after healing, every acknowledged message must be stored exactly once on both
//! deployments and shown exactly once to everyone in its conversation, in one order everywhere;
//! every conversation must still carry a message both ways; and every message written must have
//! been confirmed. Whatever fails is counted and described in the report.

use super::browsers::BrowserRecord;
use super::faults::Entry;
use super::workload::{owner, Participant};
use super::{Options, World};
use crate::pair::check_sync_within;
use protocol::{AuthorKind, ConversationId, MessageId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// At most this many problems are described in the report (all are counted).
const MAX_PROBLEMS: usize = 100;

/// `target/chaos/report.json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The seed: the same seed injects the same faults at the same moments.
    pub seed: u64,
    /// How long faults were injected, in seconds.
    pub fault_seconds: u64,
    /// Native visitors.
    pub visitors: usize,
    /// Native operators.
    pub operators: usize,
    /// Visitors in headless Chromium (the real widget).
    pub browsers: usize,
    /// Faults injected.
    pub faults_injected: usize,
    /// Messages written by all participants.
    pub messages_written: usize,
    /// Of those, typed in the browsers.
    pub browser_messages: usize,
    /// Messages acknowledged (durably stored on at least one deployment).
    pub messages_acked: usize,
    /// Acknowledged messages missing from a deployment or from a participant of their
    /// conversation.
    pub lost: usize,
    /// Messages stored or shown more than once (under different ids).
    pub duplicated: usize,
    /// Conversations whose order differs between the deployments, or between a deployment and a
    /// participant, or that show a writer's messages out of the order they were written in.
    pub order_violations: usize,
    /// Conversations in which the final round did not get a message across both ways.
    pub stuck_conversations: usize,
    /// Messages written and neither acknowledged nor refused by the end.
    pub unconfirmed: usize,
    /// Messages a deployment refused for good (an operator replying before their accept reached
    /// that deployment): shown to the writer as failed, never acknowledged. Not a loss.
    pub refused: usize,
    /// Whether `server check-sync` found both databases identical.
    pub in_sync: bool,
    /// The longest a message waited between being written and its first acknowledgement.
    pub max_resume_ms: u64,
    /// When that message was written, in milliseconds from the start (to find its fault in the
    /// log).
    pub max_resume_written_at_ms: u64,
    /// Who wrote it, and its id.
    pub max_resume_message: String,
    /// What its writer's client did and heard from a second before it was written until it was
    /// acknowledged, each line timed in milliseconds from the start like the log.
    pub max_resume_trace: Vec<String>,
    /// Visitors restarted from their state files.
    pub client_restarts: usize,
    /// What went wrong, described (at most 100).
    pub problems: Vec<String>,
    /// Every fault and heal, timed from the start of the run.
    pub log: Vec<Entry>,
    /// The command that runs this seed again.
    pub replay: String,
}

impl Report {
    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.order_violations == 0
            && self.stuck_conversations == 0
            && self.unconfirmed == 0
            && self.in_sync
    }

    /// The figures, one per line, for the terminal.
    pub fn summary(&self) -> String {
        format!(
            "seed {seed}: {faults} faults in {secs} s; {written} messages written ({browser} in browsers), {acked} acknowledged\n\
             lost {lost}, duplicated {dup}, order violations {order}, stuck conversations {stuck}, \
             unconfirmed {unconfirmed}, in sync {sync}\n\
             refused {refused}, client restarts {restarts}, longest wait for an acknowledgement {resume} ms\n\
             {verdict}",
            seed = self.seed,
            faults = self.faults_injected,
            secs = self.fault_seconds,
            written = self.messages_written,
            browser = self.browser_messages,
            acked = self.messages_acked,
            lost = self.lost,
            dup = self.duplicated,
            order = self.order_violations,
            stuck = self.stuck_conversations,
            unconfirmed = self.unconfirmed,
            sync = self.in_sync,
            refused = self.refused,
            restarts = self.client_restarts,
            resume = self.max_resume_ms,
            verdict = if self.passed() {
                "PASSED".to_owned()
            } else {
                format!("FAILED:\n  {}", self.problems.join("\n  "))
            }
        )
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(text);
        }
    }
}

/// A stored message as the checker needs it.
#[derive(Clone, Debug)]
struct Stored {
    id: MessageId,
    kind: AuthorKind,
    body: String,
}

/// One deployment's database: each conversation's messages in display order (hlc, id), and
/// each conversation's operator's e-mail address.
struct Database {
    conversations: BTreeMap<ConversationId, Vec<Stored>>,
    operators: BTreeMap<ConversationId, String>,
}

fn read_database(dir: &Path) -> Database {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the database opens");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check runs");
    assert_eq!(integrity, "ok", "{} is damaged", dir.display());
    let mut conversations: BTreeMap<ConversationId, Vec<Stored>> = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT id, conversation_id, author_kind, body FROM messages ORDER BY conversation_id, hlc, id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (id, conversation, kind, body) = row.unwrap();
        conversations
            .entry(ConversationId::parse(&conversation).unwrap())
            .or_default()
            .push(Stored {
                id: MessageId::parse(&id).unwrap(),
                kind: AuthorKind::parse(&kind).unwrap_or(AuthorKind::System),
                body,
            });
    }
    let mut operators = BTreeMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT c.id, o.email FROM conversations c JOIN operators o ON o.id = c.operator_id",
        )
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (conversation, email) = row.unwrap();
        operators.insert(ConversationId::parse(&conversation).unwrap(), email);
    }
    Database {
        conversations,
        operators,
    }
}

/// A conversation seen from its visitor's side, native or in a browser.
struct Subject {
    name: String,
    conversation: ConversationId,
    /// What the visitor shows: stored messages (not system notices), in order.
    shown: Vec<(MessageId, String)>,
    answered: bool,
}

/// The stored messages a client transcript shows (pending ones and system notices left out).
fn shown_by_transcript(transcript: &client_core::Transcript) -> Vec<(MessageId, String)> {
    transcript
        .entries()
        .iter()
        .filter(|e| e.seq.is_some() && e.author.kind != AuthorKind::System)
        .map(|e| (e.id, e.body.clone()))
        .collect()
}

/// Compares the records with both databases.
pub async fn check(
    world: &World,
    options: &Options,
    participants: Vec<Participant>,
    browsers: Vec<BrowserRecord>,
    log: Vec<Entry>,
    faults_injected: usize,
) -> Report {
    let dirs = [
        world.deployments[0].data_dir.path().to_owned(),
        world.deployments[1].data_dir.path().to_owned(),
    ];
    let in_sync = tokio::task::block_in_place(|| {
        check_sync_within(&dirs[0], &dirs[1], Duration::from_secs(60)).is_ok()
    });
    let databases = [read_database(&dirs[0]), read_database(&dirs[1])];
    let mut report = Report {
        seed: options.seed,
        fault_seconds: options.duration.as_secs(),
        visitors: options.visitors,
        operators: options.operators,
        browsers: options.browsers,
        faults_injected,
        messages_written: participants.iter().map(|p| p.record.written.len()).sum(),
        messages_acked: 0,
        browser_messages: 0,
        lost: 0,
        duplicated: 0,
        order_violations: 0,
        stuck_conversations: 0,
        unconfirmed: 0,
        refused: participants.iter().map(|p| p.record.refused.len()).sum(),
        in_sync,
        max_resume_ms: 0,
        max_resume_written_at_ms: 0,
        max_resume_message: String::new(),
        max_resume_trace: Vec::new(),
        client_restarts: participants.iter().map(|p| p.restarts).sum(),
        problems: Vec::new(),
        log,
        replay: format!(
            "cargo xtask chaos --seed {} --seconds {}",
            options.seed,
            options.duration.as_secs()
        ),
    };
    if !in_sync {
        report.problem("server check-sync never reported the deployments identical".into());
    }

    // Where each stored message sits, per deployment.
    let positions: Vec<BTreeMap<MessageId, (ConversationId, usize)>> = databases
        .iter()
        .map(|db| {
            db.conversations
                .iter()
                .flat_map(|(&c, messages)| {
                    messages
                        .iter()
                        .enumerate()
                        .map(move |(i, m)| (m.id, (c, i)))
                })
                .collect()
        })
        .collect();

    // Acknowledged: what a native client heard `ack` for, and every message a browser shows as
    // sent (system notices are nobody's writing).
    // A text typed in a browser must end up shown as sent.
    let mut acked: BTreeSet<MessageId> = participants
        .iter()
        .flat_map(|p| p.record.acked.iter().copied())
        .collect();
    for browser in &browsers {
        let sent: BTreeSet<&str> = browser
            .lines
            .iter()
            .filter(|l| super::browsers::acknowledged(&l.status))
            .map(|l| l.text.as_str())
            .collect();
        for text in &browser.typed {
            if !sent.contains(text.as_str()) {
                report.unconfirmed += 1;
                report.problem(format!("{}: {text:?} is not shown as sent", browser.name));
            }
        }
        report.messages_written += browser.typed.len();
        report.browser_messages += browser.typed.len();
        acked.extend(
            browser
                .lines
                .iter()
                .filter(|l| super::browsers::acknowledged(&l.status) && l.author != "system")
                .filter_map(|l| MessageId::parse(&l.id).ok()),
        );
    }
    report.messages_acked = acked.len();

    // Stored exactly once on both deployments, in the same order.
    for id in &acked {
        for (d, name) in ["primary", "redundant"].iter().enumerate() {
            if !positions[d].contains_key(id) {
                report.lost += 1;
                report.problem(format!("acknowledged message {id} is missing on {name}"));
            }
        }
    }
    for (db, name) in databases.iter().zip(["primary", "redundant"]) {
        for (conversation, messages) in &db.conversations {
            let mut bodies = BTreeMap::<&str, usize>::new();
            for m in messages.iter().filter(|m| m.kind != AuthorKind::System) {
                *bodies.entry(&m.body).or_default() += 1;
            }
            for (body, n) in bodies.into_iter().filter(|(_, n)| *n > 1) {
                report.duplicated += n - 1;
                report.problem(format!(
                    "{name} stores {body:?} {n} times in conversation {conversation}"
                ));
            }
        }
    }
    let all_conversations: BTreeSet<ConversationId> = databases
        .iter()
        .flat_map(|db| db.conversations.keys().copied())
        .collect();
    for conversation in &all_conversations {
        let order = |db: &Database| -> Vec<MessageId> {
            db.conversations
                .get(conversation)
                .map(|ms| ms.iter().map(|m| m.id).collect())
                .unwrap_or_default()
        };
        if order(&databases[0]) != order(&databases[1]) {
            report.order_violations += 1;
            report.problem(format!(
                "conversation {conversation} differs between the deployments"
            ));
        }
    }

    // Each writer's messages in the order written.
    for participant in &participants {
        let record = &participant.record;
        let mut last: BTreeMap<ConversationId, usize> = BTreeMap::new();
        for id in &record.written {
            let Some(&(conversation, position)) = positions[0].get(id) else {
                continue;
            };
            if let Some(&previous) = last.get(&conversation) {
                if position < previous {
                    report.order_violations += 1;
                    report.problem(format!(
                        "{}: message {id} is stored before one written earlier",
                        participant.name
                    ));
                }
            }
            last.insert(conversation, position);
        }
        for id in &record.written {
            if !record.acked.contains(id) && !record.refused.contains(id) {
                report.unconfirmed += 1;
                report.problem(format!(
                    "{}: message {id} was never acknowledged",
                    participant.name
                ));
            }
        }
        for (id, (written_at, acked_at)) in &record.timings {
            if let Some(acked_at) = acked_at {
                let waited = acked_at.duration_since(*written_at).as_millis() as u64;
                if waited > report.max_resume_ms {
                    report.max_resume_ms = waited;
                    report.max_resume_message = format!("{}: {id}", participant.name);
                    report.max_resume_written_at_ms = written_at
                        .saturating_duration_since(world.started)
                        .as_millis() as u64;
                    let from = written_at
                        .checked_sub(Duration::from_secs(1))
                        .unwrap_or(*written_at);
                    report.max_resume_trace = record
                        .trace_between(from, *acked_at)
                        .into_iter()
                        .map(|(at, line)| {
                            let ms = at.saturating_duration_since(world.started).as_millis();
                            format!("{ms} {line}")
                        })
                        .collect();
                }
            }
        }
    }

    // Every participant of a conversation shows all of it, once, in the deployments' order: the
    // visitor who opened it and the operator it ended with.
    let mut subjects: Vec<Subject> = Vec::new();
    for participant in participants.iter().take(options.visitors) {
        if let Some((&conversation, transcript)) = participant.record.transcripts.iter().next() {
            subjects.push(Subject {
                name: participant.name.clone(),
                conversation,
                shown: shown_by_transcript(transcript),
                answered: participant.answered,
            });
        }
    }
    for browser in &browsers {
        let shown: Vec<(MessageId, String)> = browser
            .lines
            .iter()
            .filter(|l| l.author != "system")
            .filter_map(|l| Some((MessageId::parse(&l.id).ok()?, l.text.clone())))
            .collect();
        let conversation = shown
            .iter()
            .find_map(|(id, _)| positions[0].get(id).map(|&(c, _)| c));
        match conversation {
            Some(conversation) => subjects.push(Subject {
                name: browser.name.clone(),
                conversation,
                shown,
                answered: browser.answered,
            }),
            None => {
                report.stuck_conversations += 1;
                report.problem(format!("{} shows no stored message", browser.name));
            }
        }
    }
    let operator_index: BTreeMap<String, usize> = (0..options.operators)
        .map(|i| (super::operator_email(i), i))
        .collect();
    for subject in &subjects {
        let conversation = subject.conversation;
        let mut members: Vec<(String, Vec<(MessageId, String)>)> =
            vec![(subject.name.clone(), subject.shown.clone())];
        match databases[0].operators.get(&conversation) {
            Some(email) => {
                let operator = &participants[options.visitors + operator_index[email]];
                let shown = operator
                    .record
                    .transcripts
                    .get(&conversation)
                    .map(shown_by_transcript)
                    .unwrap_or_default();
                members.push((operator.name.clone(), shown));
            }
            None => {
                report.problem(format!(
                    "conversation {conversation} of {} was never accepted (its owner is operator {})",
                    subject.name,
                    owner(conversation, options.operators)
                ));
            }
        }
        let stored: Vec<&Stored> = databases[0]
            .conversations
            .get(&conversation)
            .map(|ms| ms.iter().filter(|m| m.kind != AuthorKind::System).collect())
            .unwrap_or_default();
        for (name, shown) in members {
            let shown_ids: BTreeSet<MessageId> = shown.iter().map(|(id, _)| *id).collect();
            for m in &stored {
                if acked.contains(&m.id) && !shown_ids.contains(&m.id) {
                    report.lost += 1;
                    report.problem(format!(
                        "{name} does not show acknowledged message {} ({:?})",
                        m.id, m.body
                    ));
                }
            }
            let mut bodies = BTreeMap::<&str, usize>::new();
            for (_, body) in &shown {
                *bodies.entry(body).or_default() += 1;
            }
            for (body, n) in bodies.into_iter().filter(|(_, n)| *n > 1) {
                report.duplicated += n - 1;
                report.problem(format!("{name} shows {body:?} {n} times"));
            }
            let expected: Vec<MessageId> = stored
                .iter()
                .map(|m| m.id)
                .filter(|id| shown_ids.contains(id))
                .collect();
            let seen: Vec<MessageId> = shown
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| positions[0].contains_key(id))
                .collect();
            if expected != seen {
                report.order_violations += 1;
                report.problem(format!(
                    "{name} shows conversation {conversation} in another order than the deployments"
                ));
            }
        }
        if !subject.answered {
            report.stuck_conversations += 1;
            report.problem(format!(
                "{}: the final round got no answer in conversation {conversation}",
                subject.name
            ));
        }
    }
    report
}
