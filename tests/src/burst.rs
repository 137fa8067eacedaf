//! A raw WebSocket writer for crash tests: one visitor writing messages back to back, each
//! waiting for its acknowledgement, reporting every acknowledged id until its deployment dies.

use futures_util::{SinkExt, StreamExt};
use protocol::{
    Auth, ClientFrame, ConversationId, MessageId, ServerFrame, SiteId, PROTOCOL_VERSION,
};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::deployment::SITE_ID;

/// Writes messages to `url` one after another until the connection breaks, reporting each
/// acknowledged id. Returns when the deployment dies (or after `limit` messages).
pub async fn write_burst(url: String, acked: mpsc::UnboundedSender<MessageId>, limit: usize) {
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await else {
        return;
    };
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        auth: Auth::Visitor {
            site_id: SiteId(SITE_ID.into()),
            token: None,
            user: None,
        },
        page_url: None,
        context: None,
    };
    if socket
        .send(WsMessage::Text(hello.encode().into()))
        .await
        .is_err()
    {
        return;
    }
    let conversation = ConversationId(uuid::Uuid::now_v7());
    for i in 0..limit {
        let id = MessageId(uuid::Uuid::now_v7());
        let send = ClientFrame::Send {
            conversation_id: conversation,
            message_id: id,
            body: format!("burst {i}"),
            intake: None,
            attachment: None,
            private: false,
        };
        if socket
            .send(WsMessage::Text(send.encode().into()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                Ok(Some(Ok(WsMessage::Text(text)))) => match ServerFrame::decode(&text) {
                    Ok(ServerFrame::Ack { message_id, .. }) if message_id == id => {
                        let _ = acked.send(id);
                        break;
                    }
                    _ => continue,
                },
                Ok(Some(Ok(_))) => continue,
                _ => return,
            }
        }
    }
}

/// Every message id stored in the database in `dir`, as many times as stored.
pub fn stored_ids(dir: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("livechat.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn.prepare("SELECT id FROM messages").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}
