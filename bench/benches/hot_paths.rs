//! Criterion micro-benchmarks of the hot paths every chat message crosses:
//!
//! - **frames**: encoding and decoding the WebSocket frames a message travels in (`send` from the
//!   client, `message` to the other side, a replication `batch` between deployments);
//! - **ingest**: storing messages durably, both as the deployment's group commit takes them from
//!   many sockets at once and as the puller applies a replicated batch;
//! - **merge**: a client merging a full resynchronisation into a transcript it already shows,
//!   which is what every client does after a failover.
//!
//! Run with `cargo xtask bench` (all of them, with the end-to-end figures) or
//! `cargo bench -p bench --bench hot_paths`. `cargo xtask test` runs each once in test mode, so they
//! cannot rot unnoticed.

use client_core::Transcript;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use protocol::replication::{Change, LoggedEvent, ReplicationFrame};
use protocol::{
    Author, AuthorKind, ClientFrame, ConversationId, Message, MessageId, ServerFrame, SiteId,
    VisitorId,
};
use server::identity::Identity;
use server::store::Site;
use server::store::Store;
use std::hint::black_box;

/// A typical chat line: long enough to be realistic, with characters JSON must escape.
const BODY: &str =
    "Hello! My order #4521 hasn't arrived yet, could you check \"where\" it is? Thanks";

fn message(conversation_id: ConversationId, seq: u64) -> Message {
    Message {
        id: MessageId(uuid::Uuid::now_v7()),
        conversation_id,
        author: Author {
            kind: AuthorKind::Visitor,
            name: None,
        },
        body: BODY.to_owned(),
        sent_at: 1_790_000_000_000 + seq as i64,
        seq,
        hlc: (1_790_000_000_000 + seq) << 16,
        attachment: None,
        private: false,
    }
}

fn conversation() -> ConversationId {
    ConversationId(uuid::Uuid::now_v7())
}

/// The events a replication batch of `conversations` new chats with `per_conversation` messages
/// each carries, numbered from `first_seq` in the origin's log.
fn remote_events(
    site: &SiteId,
    conversations: usize,
    per_conversation: usize,
    first_seq: u64,
) -> Vec<LoggedEvent> {
    let mut events = Vec::with_capacity(conversations * (per_conversation + 2));
    let mut seq = first_seq;
    let mut push = |change: Change| {
        seq += 1;
        events.push(LoggedEvent {
            id: uuid::Uuid::now_v7(),
            origin: "redundant".into(),
            seq,
            hlc: (1_790_000_000_000 + seq) << 16,
            change,
        });
    };
    for _ in 0..conversations {
        let visitor_id = VisitorId(uuid::Uuid::now_v7());
        let conversation_id = conversation();
        push(Change::VisitorSeen {
            id: visitor_id,
            site_id: site.clone(),
        });
        push(Change::ConversationOpened {
            id: conversation_id,
            site_id: site.clone(),
            visitor_id,
            page_url: Some("https://shop.example/cart".into()),
            created_at: 1_790_000_000_000,
            conversation_kind: Default::default(),
        });
        for _ in 0..per_conversation {
            push(Change::MessagePosted {
                id: MessageId(uuid::Uuid::now_v7()),
                conversation_id,
                author_kind: AuthorKind::Visitor,
                author_id: Some(visitor_id.0),
                author_name: None,
                body: BODY.to_owned(),
                sent_at: 1_790_000_000_000,
                attachment: None,
                private: false,
            });
        }
    }
    events
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frames");
    let conversation_id = conversation();
    let send = ClientFrame::Send {
        conversation_id,
        message_id: MessageId(uuid::Uuid::now_v7()),
        body: BODY.to_owned(),
        intake: None,
        attachment: None,
        private: false,
    };
    let send_text = send.encode();
    let delivered = ServerFrame::Message {
        message: message(conversation_id, 42),
    };
    let delivered_text = delivered.encode();
    let batch = ReplicationFrame::Batch {
        deployment: "primary".into(),
        events: remote_events(&SiteId("acme".into()), 8, 6, 0),
        head_seq: 64,
        introduction: None,
    };
    let batch_text = batch.encode();

    group.throughput(Throughput::Elements(1));
    group.bench_function("send/encode", |b| b.iter(|| black_box(&send).encode()));
    group.bench_function("send/decode", |b| {
        b.iter(|| ClientFrame::decode(black_box(&send_text)).expect("valid frame"))
    });
    group.bench_function("message/encode", |b| {
        b.iter(|| black_box(&delivered).encode())
    });
    group.bench_function("message/decode", |b| {
        b.iter(|| ServerFrame::decode(black_box(&delivered_text)).expect("valid frame"))
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("replication_batch_64/encode", |b| {
        b.iter(|| black_box(&batch).encode())
    });
    group.bench_function("replication_batch_64/decode", |b| {
        b.iter(|| ReplicationFrame::decode(black_box(&batch_text)).expect("valid frame"))
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("store opens");
    let site = Site {
        id: SiteId("acme".into()),
        name: "Acme".into(),
        allowed_origins: vec![server::store::ANY_ORIGIN.into()],
    };
    let visitors: Vec<Identity> = runtime.block_on(async {
        let for_write = site.clone();
        store
            .write(move |w| w.upsert_site(&for_write))
            .await
            .expect("site stored");
        let mut visitors = Vec::new();
        for _ in 0..64 {
            let visitor_id = VisitorId(uuid::Uuid::now_v7());
            let site_id = site.id.clone();
            store
                .write(move |w| w.ensure_visitor(visitor_id, &site_id))
                .await
                .expect("visitor stored");
            visitors.push(Identity::Visitor {
                visitor_id,
                site_id: site.id.clone(),
                page_url: None,
            });
        }
        visitors
    });
    let conversations: Vec<ConversationId> = visitors.iter().map(|_| conversation()).collect();

    let mut group = c.benchmark_group("ingest");
    // Each iteration commits to disk with `synchronous = FULL`; fewer samples keep the run short.
    group.sample_size(20);

    // 64 visitors send at the same moment, as 64 sockets would: the writer gathers them into one
    // group commit, and each caller hears back only once the batch is durable.
    group.throughput(Throughput::Elements(64));
    group.bench_function("group_commit_64_messages", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let writes = visitors.iter().zip(&conversations).map(|(poster, &c)| {
                    let poster = poster.clone();
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .write(move |w| {
                                w.post_message(
                                    &poster,
                                    c,
                                    MessageId(uuid::Uuid::now_v7()),
                                    BODY,
                                    None,
                                    None,
                                )
                            })
                            .await
                    })
                });
                for write in writes.collect::<Vec<_>>() {
                    write.await.expect("task").expect("stored");
                }
            })
        })
    });

    // The puller applies one replicated batch in one transaction: 8 new chats, 6 messages each,
    // with their visitor and opening events (64 events).
    let mut next_seq = 0;
    group.bench_function("apply_replicated_batch_64_events", |b| {
        b.iter_batched(
            || {
                let events = remote_events(&site.id, 8, 6, next_seq);
                next_seq += events.len() as u64;
                events
            },
            |events| {
                runtime.block_on(store.write(move |w| {
                    for event in &events {
                        w.apply_remote(event)?;
                    }
                    Ok(())
                }))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    store.shutdown();
}

fn merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge");
    for size in [50u64, 500] {
        let conversation_id = conversation();
        let stored: Vec<Message> = (1..=size)
            .map(|seq| message(conversation_id, seq))
            .collect();
        // After a failover the client shows what it had (all but the last tenth) plus two messages
        // still pending, then receives the full history from the other deployment, in its order.
        let shown = {
            let mut transcript = Transcript::new(Some(conversation_id));
            for m in &stored[..stored.len() * 9 / 10] {
                transcript.apply_stored(m);
            }
            for _ in 0..2 {
                transcript.add_pending(
                    MessageId(uuid::Uuid::now_v7()),
                    AuthorKind::Visitor,
                    BODY.into(),
                    1_790_000_000_000,
                );
            }
            transcript
        };
        group.throughput(Throughput::Elements(size));
        group.bench_function(format!("resync_{size}_messages"), |b| {
            b.iter_batched(
                || shown.clone(),
                |mut transcript| {
                    for m in &stored {
                        transcript.apply_stored(m);
                    }
                    transcript
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, frames, ingest, merge);
criterion_main!(benches);
