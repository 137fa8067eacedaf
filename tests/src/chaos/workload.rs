//! The workload: native visitors, each chatting in a conversation of their own, and native
//! operators who accept the conversations and answer. Every participant is the real client (the
//! client core on tokio, the same `Link` as the widget) in a task of its own, recording what it
//! wrote, what was acknowledged and when, and what it would show.

use super::browsers::{BrowserRecord, Browsers};
use super::{operator_email, operator_name, Options, Rng, World, OPERATOR_PASSWORD};
use crate::visitor::Visitor;
use protocol::{AuthorKind, ClientFrame, ConversationId, ConversationState};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long the whole run waits, after healing, for every outbox to empty.
const DRAIN_LIMIT: Duration = Duration::from_secs(90);
/// How long the final round may take: every visitor writes once more and must hear back.
const FINAL_ROUND_LIMIT: Duration = Duration::from_secs(60);

/// What the tasks share with the conductor.
#[derive(Default)]
pub struct Control {
    /// Participants write while this is set.
    pub writing: AtomicBool,
    /// Every visitor writes one last message and waits for an answer.
    pub final_round: AtomicBool,
    /// The tasks return their records.
    pub stop: AtomicBool,
    /// The browsers whose final message was answered.
    browsers_answered: Mutex<BTreeSet<usize>>,
}

impl Control {
    /// Records whether browser `index` saw the answer to its final message.
    pub fn browser_answered(&self, index: usize, answered: bool) {
        let mut set = self.browsers_answered.lock().expect("control lock");
        if answered {
            set.insert(index);
        } else {
            set.remove(&index);
        }
    }
}

/// One participant's flags.
#[derive(Default)]
struct Slot {
    /// Set by the conductor: restart if the outbox holds something.
    restart: AtomicBool,
    /// How many times it was restarted.
    restarts: AtomicUsize,
    /// Messages in its outbox.
    outbox: AtomicUsize,
    /// A visitor heard the answer to its last message of the final round; an operator
    /// answered every final message it received.
    answered: AtomicBool,
}

/// One participant's record after the run.
pub struct Participant {
    /// `visitor 3`, `operator 1`.
    pub name: String,
    /// The record.
    pub record: Visitor,
    /// How many times it was restarted from its state file.
    pub restarts: usize,
    /// For a visitor: whether the final round's answer arrived.
    pub answered: bool,
}

/// The running workload.
pub struct Workload {
    control: Arc<Control>,
    visitors: Vec<(JoinHandle<Visitor>, Arc<Slot>)>,
    operators: Vec<(JoinHandle<Visitor>, Arc<Slot>)>,
    browsers: Option<Browsers>,
    browser_count: usize,
    /// The visitors' state files.
    _state: tempfile::TempDir,
}

/// The operator a conversation belongs to, so operators do not fight over it (they may: a
/// conversation accepted on both deployments during a cut converges to one of them).
pub fn owner(conversation: ConversationId, operators: usize) -> usize {
    (conversation.0.as_u128() % operators as u128) as usize
}

impl Workload {
    /// Logs the operators in and starts every participant, writing.
    pub async fn start(world: &World, options: &Options, mut rng: Rng) -> Workload {
        let control = Arc::new(Control::default());
        control.writing.store(true, Ordering::SeqCst);
        let state = tempfile::tempdir().expect("a state directory");
        let urls = world.client_urls();
        let mut operators = Vec::new();
        for index in 0..options.operators {
            let record = Visitor::operator(
                &operator_email(index),
                OPERATOR_PASSWORD,
                urls.clone(),
                Some(world.moderator_url()),
            )
            .await;
            let slot = Arc::new(Slot::default());
            let task = tokio::spawn(operator(
                index,
                options.operators,
                record,
                control.clone(),
                slot.clone(),
                rng.fork(),
            ));
            operators.push((task, slot));
        }
        let mut visitors = Vec::new();
        for index in 0..options.visitors {
            let state_file = state.path().join(format!("visitor-{index}.json"));
            let record = Visitor::start_with(
                crate::deployment::SITE_ID,
                urls.clone(),
                Some(world.moderator_url()),
                |options| options.state_file = Some(state_file),
            );
            let slot = Arc::new(Slot::default());
            let task = tokio::spawn(visitor(
                index,
                record,
                control.clone(),
                slot.clone(),
                rng.fork(),
            ));
            visitors.push((task, slot));
        }
        let browsers = if options.browsers > 0 {
            let page = xtask::render_demo_page(
                &crate::root(),
                &urls,
                Some(&world.moderator_url()),
                crate::deployment::SITE_ID,
            )
            .expect("the demo page renders");
            let page_url = crate::page::serve_page(page).await;
            Some(Browsers::start(options.browsers, &page_url, control.clone(), &mut rng).await)
        } else {
            None
        };
        Workload {
            control,
            visitors,
            operators,
            browsers,
            browser_count: options.browsers,
            _state: state,
        }
    }

    /// Restarts up to `count` visitors that have messages waiting in their outbox, as a reloaded
    /// page would; returns which ones were restarted.
    pub async fn restart_visitors(&self, count: usize, rng: &mut Rng) -> Vec<usize> {
        let waiting: Vec<usize> = (0..self.visitors.len())
            .filter(|&i| self.visitors[i].1.outbox.load(Ordering::SeqCst) > 0)
            .collect();
        let mut chosen = BTreeSet::new();
        for _ in 0..count.min(waiting.len()) {
            chosen.insert(waiting[rng.between(0, waiting.len() as u64 - 1) as usize]);
        }
        let before: Vec<usize> = chosen
            .iter()
            .map(|&i| self.visitors[i].1.restarts.load(Ordering::SeqCst))
            .collect();
        for &i in &chosen {
            self.visitors[i].1.restart.store(true, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        chosen
            .into_iter()
            .zip(before)
            .filter(|&(i, n)| self.visitors[i].1.restarts.load(Ordering::SeqCst) > n)
            .map(|(i, _)| i)
            .collect()
    }

    fn slots(&self) -> impl Iterator<Item = &Arc<Slot>> {
        self.visitors.iter().chain(&self.operators).map(|(_, s)| s)
    }

    /// After healing: stops writing, waits for every outbox to empty, runs the final round,
    /// asks every participant for full histories, and returns the records. Every wait is bounded;
    /// what did not happen in time shows in the records and fails the check.
    pub async fn finish(self) -> Finished {
        self.control.writing.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + DRAIN_LIMIT;
        while Instant::now() < deadline && self.slots().any(|s| s.outbox.load(Ordering::SeqCst) > 0)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.control.final_round.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + FINAL_ROUND_LIMIT;
        while Instant::now() < deadline
            && (self
                .visitors
                .iter()
                .any(|(_, s)| !s.answered.load(Ordering::SeqCst))
                || self
                    .control
                    .browsers_answered
                    .lock()
                    .expect("control lock")
                    .len()
                    < self.browser_count)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The final answers drain too before histories are compared.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && self.slots().any(|s| s.outbox.load(Ordering::SeqCst) > 0)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Each task asks for the full history of its conversations before handing its record over.
        self.control.stop.store(true, Ordering::SeqCst);
        let mut participants = Vec::new();
        for (kind, tasks) in [("visitor", self.visitors), ("operator", self.operators)] {
            for (index, (task, slot)) in tasks.into_iter().enumerate() {
                participants.push(Participant {
                    name: format!("{kind} {index}"),
                    record: task.await.expect("a participant task panicked"),
                    restarts: slot.restarts.load(Ordering::SeqCst),
                    answered: slot.answered.load(Ordering::SeqCst),
                });
            }
        }
        let browsers = match self.browsers {
            Some(browsers) => browsers.finish().await,
            None => Vec::new(),
        };
        Finished {
            participants,
            browsers,
            state: self._state,
        }
    }
}

/// The records of a finished workload.
pub struct Finished {
    /// Visitors, then operators.
    pub participants: Vec<Participant>,
    /// The browsers' records.
    pub browsers: Vec<BrowserRecord>,
    /// The visitors' state files: their clients still run inside the records, so the directory
    /// must outlive them.
    pub state: tempfile::TempDir,
}

/// The body of a visitor's final message.
pub fn final_body(index: usize) -> String {
    format!("v{index} final")
}

async fn visitor(
    index: usize,
    mut record: Visitor,
    control: Arc<Control>,
    slot: Arc<Slot>,
    mut rng: Rng,
) -> Visitor {
    record.resync_on_welcome = true;
    let mut next_write = Instant::now() + Duration::from_millis(rng.between(0, 2_000));
    let mut written = 0;
    let mut final_written = false;
    while !control.stop.load(Ordering::SeqCst) {
        if slot.restart.swap(false, Ordering::SeqCst) && record.outbox_len() > 0 {
            record.restart();
            slot.restarts.fetch_add(1, Ordering::SeqCst);
        }
        if control.writing.load(Ordering::SeqCst) && Instant::now() >= next_write {
            record.write(&format!("v{index} m{written}"));
            written += 1;
            next_write = Instant::now() + Duration::from_millis(rng.between(800, 3_000));
        }
        if control.final_round.load(Ordering::SeqCst) && !final_written {
            record.write(&final_body(index));
            final_written = true;
        }
        record.pump(Duration::from_millis(100)).await;
        if final_written && !slot.answered.load(Ordering::SeqCst) {
            let conversation = record.conversation();
            let answered = record
                .transcripts
                .get(&conversation)
                .is_some_and(|t| has_final(t, AuthorKind::Operator));
            slot.answered.store(answered, Ordering::SeqCst);
        }
        slot.outbox.store(record.outbox_len(), Ordering::SeqCst);
    }
    resync_once(&mut record).await;
    record
}

/// Whether `transcript` shows a final-round message written by `kind`.
fn has_final(transcript: &client_core::Transcript, kind: AuthorKind) -> bool {
    transcript
        .entries()
        .iter()
        .any(|e| e.author.kind == kind && e.body.ends_with(" final"))
}

/// The full history of every conversation, merged, before the record is handed over.
async fn resync_once(record: &mut Visitor) {
    record.resync();
    record.pump(Duration::from_secs(3)).await;
}

async fn operator(
    index: usize,
    operators: usize,
    mut record: Visitor,
    control: Arc<Control>,
    slot: Arc<Slot>,
    mut rng: Rng,
) -> Visitor {
    record.resync_on_welcome = true;
    let me = operator_name(index);
    let mut asked: BTreeMap<ConversationId, Instant> = BTreeMap::new();
    let mut mine: BTreeSet<ConversationId> = BTreeSet::new();
    let mut finals_answered: BTreeSet<ConversationId> = BTreeSet::new();
    let mut seen = 0;
    let mut replies = 0;
    while !control.stop.load(Ordering::SeqCst) {
        record.pump(Duration::from_millis(100)).await;
        for summary in record.conversations.clone() {
            if owner(summary.id, operators) != index {
                continue;
            }
            match summary.state {
                ConversationState::Waiting => {
                    // `accept` is not kept while offline, so it is asked again until it sticks.
                    let due = asked
                        .get(&summary.id)
                        .is_none_or(|at| at.elapsed() > Duration::from_secs(2));
                    if due {
                        record.send(ClientFrame::Accept {
                            conversation_id: summary.id,
                        });
                        asked.insert(summary.id, Instant::now());
                    }
                }
                ConversationState::Active
                    if summary.operator.as_ref().is_some_and(|o| o.name == me)
                        && mine.insert(summary.id) =>
                {
                    record
                        .transcripts
                        .entry(summary.id)
                        .or_insert_with(|| client_core::Transcript::new(Some(summary.id)));
                    record.send(ClientFrame::Sync {
                        conversation_id: summary.id,
                        after_seq: 0,
                    });
                }
                _ => {}
            }
        }
        let arrived: Vec<_> = record.received[seen..].to_vec();
        seen = record.received.len();
        for message in arrived {
            if message.author.kind != AuthorKind::Visitor
                || !mine.contains(&message.conversation_id)
            {
                continue;
            }
            if message.body.ends_with(" final") {
                if finals_answered.insert(message.conversation_id) {
                    record.write_to(message.conversation_id, &format!("op{index} final"));
                }
            } else if control.writing.load(Ordering::SeqCst) && rng.chance(1, 3) {
                record.write_to(message.conversation_id, &format!("op{index} r{replies}"));
                replies += 1;
            }
        }
        // A final message that arrived only through a history (after a move) is answered too.
        if control.final_round.load(Ordering::SeqCst) {
            for (&conversation, transcript) in &record.transcripts.clone() {
                if has_final(transcript, AuthorKind::Visitor)
                    && mine.contains(&conversation)
                    && finals_answered.insert(conversation)
                {
                    record.write_to(conversation, &format!("op{index} final"));
                }
            }
        }
        slot.outbox.store(record.outbox_len(), Ordering::SeqCst);
    }
    resync_once(&mut record).await;
    record
}
