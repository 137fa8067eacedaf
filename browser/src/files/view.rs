//! How the widget and the console show a file a message carries: an image as a thumbnail, any
//! other file as a link with its name and size. The bytes come from the deployment with the
//! caller's token (images at once, other files when clicked), into an object URL freed when the
//! message leaves the screen.

use super::{download, release, save};
use crate::set_timeout;
use leptos::prelude::*;
use protocol::conversation::Attachment;
use protocol::files::size_label;
use std::sync::{Arc, Mutex};

/// Where files are fetched from now: the base URL of the deployment the app is connected to
/// and the caller's token; `None` while offline.
pub type Source = Arc<dyn Fn() -> Option<(String, String)> + Send + Sync>;

/// How often a download waits one second for a connection (or retries a failed one) before it
/// gives up: a failover takes far less.
const ATTEMPTS: u32 = 60;

/// One file of a message, marked `testid` (with `data-name` and `data-size`).
#[component]
pub fn AttachmentView(
    /// The file.
    file: Attachment,
    /// The element's `data-testid`.
    testid: &'static str,
    /// Where to fetch it from.
    source: Source,
) -> impl IntoView {
    let url = RwSignal::new(None::<String>);
    // Held apart from the signal, which is gone by the time the cleanup runs.
    let held = Arc::new(Mutex::new(None::<String>));
    let keep = held.clone();
    on_cleanup(move || {
        if let Some(url) = keep.lock().ok().and_then(|mut u| u.take()) {
            release(&url);
        }
    });
    let image = file.is_image();
    let fetch = {
        let (hash, name) = (file.hash.clone(), file.name.clone());
        move |open: bool| {
            let (held, name) = (held.clone(), name.clone());
            fetch_into(
                source.clone(),
                hash.clone(),
                ATTEMPTS,
                move |fetched: String| {
                    if let Ok(mut slot) = held.lock() {
                        *slot = Some(fetched.clone());
                    }
                    if open {
                        save(&fetched, &name);
                    }
                    url.set(Some(fetched));
                },
            );
        }
    };
    let name = file.name.clone();
    let size = file.size.to_string();
    let label = format!("{} ({})", file.name, size_label(file.size));
    let saved_name = file.name.clone();
    if image {
        fetch(false);
    }
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if url.get_untracked().is_none() {
            ev.prevent_default();
            fetch(!image);
        }
    };
    let inner = match image {
        true => view! { <img src=move || url.get() alt=name.clone() /> }.into_any(),
        false => view! { <span class="file">{label.clone()}</span> }.into_any(),
    };
    view! {
        <a class="attachment" data-testid=testid data-name=name data-size=size
            href=move || url.get() download=(!image).then_some(saved_name) target="_blank"
            rel="noopener" title=label on:click=on_click>
            {inner}
        </a>
    }
}

/// The uploads under way for `conversation` (all of them for `None`), each with its progress,
/// marked `testid`.
#[component]
pub fn UploadList(
    /// Every upload under way.
    uploads: RwSignal<Vec<super::Uploading>>,
    /// Which conversation's to show.
    conversation: Option<protocol::ConversationId>,
    /// Each row's `data-testid`.
    testid: &'static str,
) -> impl IntoView {
    let shown = move || {
        uploads.with(|u| {
            u.iter()
                .filter(|x| conversation.is_none() || x.conversation == conversation)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <For each=shown key=|u| (u.key, u.progress) let:upload>
            <div class="upload" data-testid=testid role="status">
                <span>{upload.name}</span>
                <progress max="100" value=upload.progress.to_string()></progress>
            </div>
        </For>
    }
}

/// Downloads `hash` into an object URL from the current source, waiting a second for a
/// connection (or after a failure) up to `attempts` times.
fn fetch_into(
    source: Source,
    hash: String,
    attempts: u32,
    done: impl FnOnce(String) + Clone + Send + Sync + 'static,
) {
    let again = {
        let source = source.clone();
        move |hash: String, done| {
            if attempts > 1 {
                set_timeout(1_000, move || fetch_into(source, hash, attempts - 1, done));
            }
        }
    };
    let Some((base, token)) = source() else {
        again(hash, done);
        return;
    };
    let retry_hash = hash.clone();
    download(&base, &token, &hash, move |fetched| match fetched {
        Some(url) => done(url),
        None => again(retry_hash, done),
    });
}
