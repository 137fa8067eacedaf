//! kill -9 of either deployment in the middle of a write burst, many times, with the redundant
//! deployment's clock 30 s behind: after restarts and catch-up, every acknowledged message is on
//! both deployments exactly once, and every conversation shows each author's messages in the order
//! they were sent.

use std::collections::BTreeSet;
use std::time::Duration;
use tests::burst::{stored_ids, write_burst};
use tests::pair::{in_sync, start_pair};
use tokio::sync::mpsc;

/// For every conversation, the burst numbers of its messages in display order, (hlc, id).
fn burst_orders(dir: &std::path::Path) -> Vec<Vec<u32>> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT conversation_id, body FROM messages ORDER BY conversation_id, hlc, id")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut orders: Vec<Vec<u32>> = Vec::new();
    let mut current = None;
    for (conversation, body) in rows {
        if current.as_ref() != Some(&conversation) {
            orders.push(Vec::new());
            current = Some(conversation);
        }
        orders
            .last_mut()
            .unwrap()
            .push(body.trim_start_matches("burst ").parse().unwrap());
    }
    orders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9_of_either_deployment() {
    let (mut primary, mut redundant) = start_pair(-30_000);
    let (acked_tx, mut acked_rx) = mpsc::unbounded_channel();
    let mut acked = BTreeSet::new();
    for round in 0..6 {
        let (victim, survivor) = if round % 2 == 0 {
            (&mut primary, &mut redundant)
        } else {
            (&mut redundant, &mut primary)
        };
        // Writers on both deployments at once; the victim dies mid-burst.
        let on_victim = tokio::spawn(write_burst(victim.ws_url(), acked_tx.clone(), 10_000));
        let on_survivor = tokio::spawn(write_burst(survivor.ws_url(), acked_tx.clone(), 40));
        let mut seen_this_round = 0;
        while seen_this_round < 25 {
            let id = tokio::time::timeout(Duration::from_secs(20), acked_rx.recv())
                .await
                .expect("acks keep coming")
                .unwrap();
            acked.insert(id.to_string());
            seen_this_round += 1;
        }
        victim.kill9();
        let _ = on_victim.await;
        let _ = on_survivor.await;
        victim.start();
    }
    drop(acked_tx);
    while let Some(id) = acked_rx.recv().await {
        acked.insert(id.to_string());
    }
    in_sync(&primary, &redundant).await;
    for member in [&primary, &redundant] {
        let ids = stored_ids(member.data_dir.path());
        let distinct: BTreeSet<_> = ids.iter().cloned().collect();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "{}: a message is stored twice",
            member.name
        );
        let missing: Vec<_> = acked.difference(&distinct).collect();
        assert!(
            missing.is_empty(),
            "{}: {} acknowledged messages are missing: {missing:?}",
            member.name,
            missing.len()
        );
    }
    assert!(
        acked.len() >= 150,
        "the bursts should have written plenty, got {}",
        acked.len()
    );
    // Each conversation has one author writing in sequence, half of them on the skewed deployment.
    for order in burst_orders(primary.data_dir.path()) {
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "messages out of send order: {order:?}"
        );
    }
}
