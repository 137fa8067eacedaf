//! Sending the deployment's e-mails: the queue in [`crate::store::mail`], drained by one task
//! through an SMTP server (`smtp_url`) with `lettre`. A mail is taken off the queue only once the
//! server accepted it; a failure is retried after 10 s, doubling up to an hour, so a mail server
//! that is down for a while delays mail and loses none. The texts are built here too, so what a
//! site owner and a visitor receive is in one place.

use crate::state::AppState;
use crate::store::mail::Mail;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use protocol::{AuthorKind, ConversationSummary, VisitorDetails};
use std::time::Duration;
use tokio::sync::Notify;

/// How many queued mails one round sends.
const ROUND: usize = 20;
/// How often the queue is looked at when nothing announced a new mail (for retries).
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// The transport for `url` (`smtp://`, `smtps://`, with `?tls=required` for STARTTLS).
pub fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|builder| builder.timeout(Some(Duration::from_secs(20))).build())
        .map_err(|e| e.to_string())
}

/// Wakes the sender: a mail was queued.
pub fn queued(notify: &Notify) {
    notify.notify_one();
}

/// Sends queued mail until the deployment shuts down; returns at once without `smtp_url`.
pub async fn run(state: AppState) {
    let Some(url) = state.config.smtp_url.clone() else {
        return;
    };
    let transport = match transport(&url) {
        Ok(transport) => transport,
        Err(e) => {
            // Checked when the configuration was loaded; kept here so the task never panics.
            tracing::error!(error = %e, "the mail server URL is unusable; no e-mail is sent");
            return;
        }
    };
    let from: Mailbox = match state.config.mail_from.parse() {
        Ok(from) => from,
        Err(e) => {
            tracing::error!(error = %e, "mail_from is not an address; no e-mail is sent");
            return;
        }
    };
    let mut shutdown = state.shutdown.clone();
    loop {
        let now = state.now_ms();
        let due = state.store.read(move |r| r.mail_due(now, ROUND)).await;
        match due {
            Ok(due) => {
                for mail in due {
                    send_one(&state, &transport, &from, mail).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the mail queue"),
        }
        tokio::select! {
            _ = state.mail.notified() => {}
            _ = tokio::time::sleep(IDLE_CHECK) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn send_one(
    state: &AppState,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    mail: Mail,
) {
    let id = mail.id;
    let outcome = match message(from, &mail) {
        Ok(message) => transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(to = %mail.to, "e-mail sent");
            state.store.write(move |w| w.mail_sent(id)).await
        }
        Err(e) => {
            let retry_ms = 10_000i64
                .saturating_mul(1 << mail.attempts.min(9))
                .min(3_600_000);
            tracing::warn!(to = %mail.to, error = %e, retry_ms, "e-mail not sent; retrying later");
            state
                .store
                .write(move |w| w.mail_failed(id, &e, retry_ms))
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not note an e-mail's outcome");
    }
}

/// The message for a queued mail.
fn message(from: &Mailbox, mail: &Mail) -> Result<Message, String> {
    let to: Mailbox = mail.to.parse().map_err(|e| format!("recipient: {e}"))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone());
    if let Some(reply_to) = &mail.reply_to {
        builder = builder.reply_to(reply_to.parse().map_err(|e| format!("reply-to: {e}"))?);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| e.to_string())
}

/// The e-mail to a site's notification address about an offline message.
pub fn offline_notice(
    to: &str,
    site_name: &str,
    details: &VisitorDetails,
    conversation: &ConversationSummary,
    body: &str,
) -> Mail {
    let name = details.name.as_deref().unwrap_or("A visitor");
    let email = details.email.as_deref().unwrap_or("(no address)");
    let page = conversation.page_url.as_deref().unwrap_or("(unknown)");
    Mail {
        id: 0,
        to: to.to_owned(),
        reply_to: details.email.clone(),
        subject: format!("Offline message from {name} on {site_name}"),
        body: format!(
            "{name} <{email}> left a message while nobody was online.\n\nPage: {page}\n\n{body}\n\n\
             Reply to this e-mail to answer them, or find the conversation in the console's inbox.\n"
        ),
        attempts: 0,
    }
}

/// The e-mail with a conversation's transcript, for its visitor.
pub fn transcript(to: &str, site_name: &str, messages: &[protocol::Message]) -> Mail {
    let mut body = format!("Your conversation with {site_name}:\n\n");
    for message in messages {
        let who = match message.author.kind {
            AuthorKind::Visitor => "You".to_owned(),
            AuthorKind::Operator => message.author.name.clone().unwrap_or("Operator".into()),
            AuthorKind::System => "—".to_owned(),
        };
        body.push_str(&format!(
            "[{}] {who}: {}\n",
            utc(message.sent_at),
            protocol::files::Attachment::with_body(&message.body, message.attachment.as_ref())
        ));
    }
    Mail {
        id: 0,
        to: to.to_owned(),
        reply_to: None,
        subject: format!("Your conversation with {site_name}"),
        body,
        attempts: 0,
    }
}

/// `2026-12-01 14:05 UTC`: a mail is read anywhere, so its times say their zone.
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_in_mails_are_utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_764_597_900_000), "2025-12-01 14:05 UTC");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
