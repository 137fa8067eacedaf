//! The parts of the widget a visitor may never see, kept out of the first download: the pre-chat
//! and offline forms, the rating and the transcript tools after a chat, the emoji picker's
//! buttons, the views of a file and of an upload, and the launcher for a page without the loader
//! (which draws its own). The build (`cargo xtask`, `xtask/src/widget.rs`) moves each
//! `#[wasm_split(extras)]` function below into one separate WebAssembly chunk,
//! `split_extras.<build>.wasm`, which the widget fetches the first time one of them is shown: from
//! the deployment that served the widget, else from the others in turn, else from the copy the
//! browser kept (see `widget/split.js`).
//!
//! Everything these views call that nothing else calls (the forms' checks, the transcript's
//! files, the picker's rendering) goes into the chunk with them.
//!
//! The split functions cross into the chunk with the C calling convention; both sides are this
//! same build, so passing the widget's own types by value is sound even though C has no such
//! types (hence the `improper_ctypes` allowances).

use super::forms::{OfflineForm, PrechatForm, RatingForm, TranscriptTools};
use crate::dom::El;
use crate::i18n::t;
use crate::state::ChatState;
use browser::files::{AttachmentView, UploadList};
use leptos::prelude::*;
use leptos::reactive::computed::ScopedFuture;
use leptos::wasm_split::{wasm_split, SplitLoaderError};
use protocol::admin::FormField;
use protocol::conversation::{Attachment, RatingScale};
use send_wrapper::SendWrapper;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use web_sys::{Element, HtmlElement};

/// What a part's function in the chunk gives once it has drawn the part into its place: how to
/// take it out again (its Leptos view and that view's reactive owner). The code behind it is in
/// the chunk; the first download only calls it.
pub type Unmount = Box<dyn FnOnce()>;

/// What loading a part gives: the part drawn, or why it could not be.
type Loading = Pin<Box<dyn Future<Output = Result<Unmount, SplitLoaderError>>>>;

/// A place (`<div class="part">`, laid out as if it were not there) that `load` draws its part
/// into once the chunk is in. Until then the place is empty (the chunk is small and usually
/// arrives within a frame or two); if no deployment and no kept copy can give it, a short notice
/// with a button that tries again. The part goes when the place's owner is cleaned up.
pub fn on_first_use<F, Fut>(load: F) -> Element
where
    F: Fn(HtmlElement) -> Fut + 'static,
    Fut: Future<Output = Result<Unmount, SplitLoaderError>> + 'static,
{
    // Only this line depends on the part: the rest is one function for every part, so its code
    // is in the download once rather than once for each.
    first_use(Rc::new(move |place| Box::pin(load(place)) as Loading))
}

/// [`on_first_use`] for any part.
fn first_use(load: Rc<dyn Fn(HtmlElement) -> Loading>) -> Element {
    let failed = RwSignal::new(false);
    let attempt = RwSignal::new(0u32);
    let place = El::new("div")
        .class("part")
        .show(
            move || failed.get(),
            move || {
                El::new("p")
                    .class("error")
                    .testid("chat-part-failed")
                    .attr("role", "alert")
                    .text_with(|| t("part.failed"))
                    .text(" ")
                    .child(
                        El::new("button")
                            .attr("type", "button")
                            .text_with(|| t("part.retry"))
                            .on("click", move |_| attempt.update(|n| *n += 1))
                            .el(),
                    )
                    .el()
            },
        )
        .el();
    let target: HtmlElement = wasm_bindgen::JsCast::unchecked_into(place.clone());
    // The part is drawn under the place's owner, so it goes with the place, and tracked by no
    // one.
    let owner = Owner::current().unwrap_or_default();
    let drawn: Rc<Cell<Option<Unmount>>> = Rc::default();
    let holder = drawn.clone();
    crate::state::effect(move || {
        attempt.track();
        failed.set(false);
        let made = owner.with(|| ScopedFuture::new_untracked(load(target.clone())));
        let holder = holder.clone();
        leptos::task::spawn_local(async move {
            match made.await {
                Ok(unmount) => holder.set(Some(unmount)),
                Err(_) => failed.set(true),
            }
        });
    });
    let drawn = SendWrapper::new(drawn);
    Owner::on_cleanup(move || {
        if let Some(unmount) = drawn.take().take() {
            unmount();
        }
    });
    place
}

/// Draws `view` into `place` with Leptos (in the chunk, where the renderer is) and says how to
/// take it out again.
fn mount(place: HtmlElement, view: Box<dyn FnOnce() -> AnyView>) -> Unmount {
    add_styles();
    let handle = leptos::mount::mount_to(place, view);
    Box::new(move || drop(handle))
}

/// Adds the stylesheet of the parts in the chunk (`extras.css`) to the widget's shadow root, once.
/// Each of those parts calls it first, so the styles travel in the chunk with them and weigh
/// nothing in the first download.
fn add_styles() {
    thread_local! {
        static ADDED: Cell<bool> = const { Cell::new(false) };
    }
    if ADDED.with(|added| added.replace(true)) {
        return;
    }
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let shadow = document
        .get_element_by_id(crate::HOST_ID)
        .and_then(|host| host.shadow_root());
    if let (Some(shadow), Ok(style)) = (shadow, document.create_element("style")) {
        style.set_text_content(Some(include_str!(concat!(env!("OUT_DIR"), "/extras.css"))));
        let _ = shadow.append_child(&style);
    }
}

/// The launcher, drawn by the widget when no loader drew one (see `ui::app`).
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn launcher(
    place: HtmlElement,
    label: Option<String>,
    state: ChatState,
) -> Result<Unmount, SplitLoaderError> {
    let label = move || label.clone().unwrap_or_else(|| t("launcher.open"));
    Ok(mount(
        place,
        Box::new(move || view! { <Launcher label=label state=state /> }.into_any()),
    ))
}

/// The round button that opens and closes the panel, with the unread count.
#[component]
fn Launcher(
    /// Its accessible name.
    label: impl Fn() -> String + Send + Sync + 'static,
    /// The widget's state.
    state: ChatState,
) -> impl IntoView {
    let toggle = move |_| {
        crate::focus::launcher_used();
        state.open.update(|open| *open = !*open);
        state.unread.set(0);
    };
    view! {
        <button class="launcher" data-testid="chat-launcher" aria-label=label
            style:display=move || state.launcher_hidden.get().then_some("none")
            aria-expanded=move || state.open.get().to_string() data-chimes=move || state.chimes.get().to_string()
            on:click=toggle>
            <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H7l-3 3z"/></svg>
            <Show when=move || { state.unread.get() > 0 }>
                <span class="badge" data-testid="chat-unread">{move || state.unread.get()}</span>
            </Show>
        </button>
    }
}

/// The offline form, when nobody is online.
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn offline_form(place: HtmlElement, state: ChatState) -> Result<Unmount, SplitLoaderError> {
    Ok(mount(
        place,
        Box::new(move || view! { <OfflineForm state=state /> }.into_any()),
    ))
}

/// The pre-chat form with the site's `fields`.
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn prechat_form(
    place: HtmlElement,
    fields: Vec<FormField>,
    state: ChatState,
) -> Result<Unmount, SplitLoaderError> {
    Ok(mount(
        place,
        Box::new(move || view! { <PrechatForm fields=fields state=state /> }.into_any()),
    ))
}

/// After a chat ended: the rating on the site's `scale`, and the transcript's download links and
/// (where the deployment can mail) its e-mail form.
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn after_chat(
    place: HtmlElement,
    scale: RatingScale,
    mail: bool,
    state: ChatState,
) -> Result<Unmount, SplitLoaderError> {
    Ok(mount(
        place,
        Box::new(move || {
            view! {
                <RatingForm scale=scale state=state />
                <TranscriptTools mail=mail state=state />
            }
            .into_any()
        }),
    ))
}

/// The emoji picker's buttons, one per emoji of the table (loaded by then), which add it to the
/// message being written.
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn emoji_options(place: HtmlElement, state: ChatState) -> Result<Unmount, SplitLoaderError> {
    let text = state.draft;
    let options = move || {
        state.emoji.get().map(|table| {
            let mut shown: Vec<String> = Vec::new();
            table
                .into_iter()
                .filter(|(_, emoji)| {
                    let fresh = !shown.contains(emoji);
                    shown.push(emoji.clone());
                    fresh
                })
                .map(|(code, emoji)| {
                    let title = format!(":{code}:");
                    let insert = emoji.clone();
                    view! {
                        <button type="button" data-testid="emoji-option" data-shortcode=code title=title
                            on:click=move |_| text.update(|d| d.push_str(&insert))>{emoji}</button>
                    }
                })
                .collect_view()
        })
    };
    Ok(mount(place, Box::new(move || options.into_any())))
}

/// A file in a message: a thumbnail for an image, else a named link with its size.
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn attachment(
    place: HtmlElement,
    file: Attachment,
    state: ChatState,
) -> Result<Unmount, SplitLoaderError> {
    Ok(mount(
        place,
        Box::new(move || {
            view! { <AttachmentView file=file testid="chat-attachment" source=state.file_source() /> }
                .into_any()
        }),
    ))
}

/// The files being uploaded, with their progress.
#[allow(improper_ctypes_definitions, improper_ctypes)]
#[wasm_split(extras, wasm_split_path = leptos::wasm_split, fallible)]
pub fn uploads(place: HtmlElement, state: ChatState) -> Result<Unmount, SplitLoaderError> {
    Ok(mount(
        place,
        Box::new(move || {
            view! { <UploadList uploads=state.uploads conversation=None testid="chat-upload" /> }
                .into_any()
        }),
    ))
}
