//! The composer's file parts: the attach button over a file input (`chat-attach`), and what a
//! drop on the panel or a paste into the message field hands to the driver. The checks, the upload and the sending are the driver's.

use crate::driver;
use crate::i18n::tr;
use browser::files::files_of;
use leptos::prelude::*;

/// The paper clip: a label over a file input, so the browser's own picker opens.
#[component]
pub fn AttachButton() -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let picked = move |_| {
        if let Some(input) = input.get() {
            driver::attach(files_of(input.files()));
            // The same file may be picked again later.
            input.set_value("");
        }
    };
    view! {
        <label class="attach" title=tr("composer.attach")>
            "📎"
            <input type="file" class="attach-input" data-testid="chat-attach" aria-label=tr("composer.attach")
                multiple=true node_ref=input on:change=picked />
        </label>
    }
}

/// Files dropped on the panel are sent.
pub fn dropped(ev: leptos::ev::DragEvent) {
    ev.prevent_default();
    driver::attach(files_of(ev.data_transfer().and_then(|d| d.files())));
}

/// A pasted image is sent; pasted text is left to the field.
pub fn pasted(ev: leptos::ev::ClipboardEvent) {
    let files = files_of(ev.clipboard_data().and_then(|d| d.files()));
    if !files.is_empty() {
        ev.prevent_default();
        driver::attach(files);
    }
}
