//! The JavaScript API a site's own code drives the widget with: `livechat(method, ...)`.
//!
//! The loader defines `window.livechat` inline as a stub that queues its calls (and loads the
//! widget when a call needs it, such as `open`), so a page may call it before anything was
//! downloaded. [`install`] replaces the stub with the real function and runs the queued calls in
//! order; from then on calls run at once. Events go to the functions registered with `on`. A
//! call with wrong arguments logs one warning in the browser's console and does nothing else;
//! a listener that throws is reported the same way and does not stop the others. `www/livechat.d.ts`
//! declares all of it for TypeScript, and README.md shows it in use.

use crate::state::{ChatState, ConnectionState};
use leptos::prelude::*;
use protocol::{ConversationId, ConversationState, ConversationSummary, Message, MessageId};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Every event a page can listen to.
pub const EVENTS: [&str; 9] = [
    "ready",
    "open",
    "close",
    "message",
    "sent",
    "unread",
    "conversation:start",
    "conversation:end",
    "connection",
];

thread_local! {
    /// The listeners, by event, in the order they were added.
    static LISTENERS: RefCell<Vec<(&'static str, js_sys::Function)>> = const { RefCell::new(Vec::new()) };
    /// Whether `ready` fired (a listener added later is called at once).
    static READY: Cell<bool> = const { Cell::new(false) };
    /// The visitor's messages acknowledged once on this page and not yet on both deployments,
    /// oldest first: `sent` fires once per stage. (Lists, here and below: short, and an ordered
    /// set's code would weigh in every visitor's download.)
    static STORED: RefCell<Vec<MessageId>> = const { RefCell::new(Vec::new()) };
    /// The conversations whose end was announced.
    static ENDED: RefCell<Vec<ConversationId>> = const { RefCell::new(Vec::new()) };
}

/// Replaces the loader's stub with the real `window.livechat` and runs what was queued.
pub fn install(state: ChatState) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let stub = js_sys::Reflect::get(&window, &"livechat".into()).unwrap_or(JsValue::UNDEFINED);
    let queued = js_sys::Reflect::get(&stub, &"q".into())
        .ok()
        .filter(js_sys::Array::is_array)
        .map(|q| js_sys::Array::from(&q))
        .unwrap_or_default();
    let function = Closure::<dyn Fn(JsValue, JsValue, JsValue)>::new(
        move |method: JsValue, first: JsValue, second: JsValue| {
            call(state, &method, &first, &second)
        },
    )
    .into_js_value();
    let _ = js_sys::Reflect::set(&window, &"livechat".into(), &function);
    for args in queued.iter() {
        let arg = |i: u32| js_sys::Reflect::get_u32(&args, i).unwrap_or(JsValue::UNDEFINED);
        call(state, &arg(0), &arg(1), &arg(2));
    }
}

/// The events that follow the state: the panel opening and closing, the unread count and the
/// connection (its state and the deployment, so a failover is visible to the page). Needs the
/// reactive owner of the mounted app; `ready` fires last.
pub fn watch(state: ChatState) {
    crate::state::effect_on(move |before: Option<bool>| {
        let open = state.open.get();
        // The panel starts closed: opened by a queued call (or the loader's click), it fires.
        if before.unwrap_or(false) != open {
            emit(if open { "open" } else { "close" }, &object(&[]));
        }
        open
    });
    crate::state::effect_on(move |before: Option<u32>| {
        let unread = state.unread.get();
        if before.unwrap_or(0) != unread {
            emit("unread", &object(&[("count", unread.into())]));
        }
        unread
    });
    crate::state::effect_on(move |before: Option<(ConnectionState, Option<String>)>| {
        let now = (state.connection.get(), state.deployment.get());
        if before.as_ref() != Some(&now) {
            let deployment = now.1.clone().map_or(JsValue::NULL, JsValue::from);
            emit(
                "connection",
                &object(&[("state", now.0.as_str().into()), ("deployment", deployment)]),
            );
        }
        now
    });
    READY.with(|r| r.set(true));
    emit("ready", &object(&[]));
}

/// An operator's message arrived.
pub fn message_received(message: &Message) {
    let author = object(&[(
        "name",
        message
            .author
            .name
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from),
    )]);
    emit(
        "message",
        &object(&[
            ("messageId", message.id.to_string().into()),
            ("conversationId", message.conversation_id.to_string().into()),
            ("body", message.body.as_str().into()),
            ("author", author),
            ("sentAt", (message.sent_at as f64).into()),
        ]),
    );
}

/// A deployment stored one of the visitor's messages: `sent`, the first time on this page.
pub fn acknowledged(message: &Message) {
    if message.author.kind != protocol::AuthorKind::Visitor {
        return;
    }
    let fresh = STORED.with(|s| {
        let mut stored = s.borrow_mut();
        // Bounded: a page that never hears `replicated` (a deployment alone) forgets the oldest.
        if stored.contains(&message.id) {
            return false;
        }
        if stored.len() >= 1_000 {
            stored.remove(0);
        }
        stored.push(message.id);
        true
    });
    if fresh {
        sent(message.id, message.conversation_id, false);
    }
}

/// The outbox now holds `pending`: a message acknowledged before that left it is on both
/// deployments (`sent` again, replicated).
pub fn outbox_now(pending: &[MessageId]) {
    let done: Vec<MessageId> = STORED.with(|s| {
        let mut stored = s.borrow_mut();
        let done: Vec<MessageId> = stored
            .iter()
            .filter(|id| !pending.contains(id))
            .copied()
            .collect();
        stored.retain(|id| pending.contains(id));
        done
    });
    for id in done {
        let payload = object(&[
            ("messageId", id.to_string().into()),
            ("replicated", true.into()),
        ]);
        emit("sent", &payload);
    }
}

fn sent(id: MessageId, conversation: ConversationId, replicated: bool) {
    emit(
        "sent",
        &object(&[
            ("messageId", id.to_string().into()),
            ("conversationId", conversation.to_string().into()),
            ("replicated", replicated.into()),
        ]),
    );
}

/// The visitor's first message opened a new conversation.
pub fn conversation_started(conversation: Option<ConversationId>) {
    if let Some(id) = conversation {
        emit(
            "conversation:start",
            &object(&[("conversationId", id.to_string().into())]),
        );
    }
}

/// The shown conversation's summary changed: `conversation:end` once it is closed (by the
/// visitor or an operator), once per conversation.
pub fn conversation_changed(state: ChatState, summary: &ConversationSummary) {
    let was_open = state.conversation.with_untracked(|c| {
        c.as_ref()
            .is_some_and(|c| c.state != ConversationState::Closed)
    });
    if summary.state != ConversationState::Closed || !was_open {
        return;
    }
    let first = ENDED.with(|e| {
        let mut ended = e.borrow_mut();
        let first = !ended.contains(&summary.id);
        if first {
            ended.push(summary.id);
        }
        first
    });
    if first {
        emit(
            "conversation:end",
            &object(&[("conversationId", summary.id.to_string().into())]),
        );
    }
}

/// Calls every listener of `event` with `payload`.
fn emit(event: &str, payload: &JsValue) {
    let listeners: Vec<js_sys::Function> = LISTENERS.with(|l| {
        l.borrow()
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, f)| f.clone())
            .collect()
    });
    for listener in listeners {
        if let Err(thrown) = listener.call1(&JsValue::NULL, payload) {
            web_sys::console::warn_2(
                &format!("LiveChat: a listener of \"{event}\" threw").into(),
                &thrown,
            );
        }
    }
}

/// `{ key: value, ... }`.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in fields {
        let _ = js_sys::Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// One call of `livechat(method, first, second)`.
fn call(state: ChatState, method: &JsValue, first: &JsValue, second: &JsValue) {
    let name = method.as_string().unwrap_or_default();
    if let Err(problem) = run(state, &name, first, second) {
        web_sys::console::warn_1(&format!("LiveChat: livechat(\"{name}\"): {problem}").into());
    }
}

fn run(state: ChatState, method: &str, first: &JsValue, second: &JsValue) -> Result<(), String> {
    match method {
        "open" => state.open.set(true),
        "close" => state.open.set(false),
        "toggle" => state.open.update(|open| *open = !*open),
        "show" => state.launcher_hidden.set(false),
        "hide" => state.launcher_hidden.set(true),
        "identify" => crate::driver::identify(identity(first)?),
        "setAttributes" => crate::driver::set_attributes(attributes(first)?)?,
        "sendMessage" => {
            let text = first
                .as_string()
                .filter(|t| !t.trim().is_empty())
                .ok_or("give the message's text, a string that is not empty")?;
            if !crate::driver::send_message(&text) {
                return Err("the message was not sent (too long?)".into());
            }
        }
        "setLocale" => {
            let tag = first
                .as_string()
                .ok_or("give a language tag such as \"de\"")?;
            let canonical =
                canonical_locale(&tag).ok_or_else(|| format!("\"{tag}\" is not a language tag"))?;
            state.locale.set(Some(canonical));
        }
        "on" | "off" => {
            let event = EVENTS
                .into_iter()
                .find(|e| first.as_string().as_deref() == Some(*e))
                .ok_or_else(|| format!("the event is one of {}", EVENTS.join(", ")))?;
            let listener = second.dyn_ref::<js_sys::Function>().cloned();
            if method == "off" {
                LISTENERS.with(|l| {
                    l.borrow_mut().retain(|(e, f)| {
                        *e != event || listener.as_ref().is_some_and(|g| !js_sys::Object::is(f, g))
                    })
                });
                return Ok(());
            }
            let listener = listener.ok_or("give a function to call")?;
            if event == "ready" && READY.with(Cell::get) {
                let _ = listener.call1(&JsValue::NULL, &object(&[]));
            }
            LISTENERS.with(|l| l.borrow_mut().push((event, listener)));
        }
        "shutdown" => {
            let discard = js_sys::Reflect::get(first, &"discardUnsent".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(false);
            crate::driver::shutdown(discard);
        }
        _ => {
            return Err(
                "unknown method; see livechat.d.ts for open, close, toggle, show, hide, identify, \
                 setAttributes, sendMessage, setLocale, on, off and shutdown"
                    .into(),
            )
        }
    }
    Ok(())
}

/// `tag` as the browser writes it (`pt-br` → `pt-BR`), or `None` when it is no language tag
/// (`Intl.getCanonicalLocales` throws then, and `call1` catches it).
fn canonical_locale(tag: &str) -> Option<String> {
    let intl = js_sys::Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let canonical = js_sys::Reflect::get(&intl, &"getCanonicalLocales".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?
        .call1(&intl, &tag.into())
        .ok()?;
    js_sys::Array::from(&canonical).get(0).as_string()
}

/// `identify({ userId, signature, name?, email? })`.
fn identity(value: &JsValue) -> Result<protocol::visitor::UserIdentity, String> {
    if !value.is_object() {
        return Err("give { userId, signature, name?, email? }".into());
    }
    let text = |key: &str| {
        js_sys::Reflect::get(value, &key.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let user = protocol::visitor::UserIdentity {
        user_id: text("userId").ok_or("userId must be a string")?,
        signature: text("signature").ok_or("signature must be a string")?,
        name: text("name"),
        email: text("email"),
    };
    user.check()?;
    Ok(user)
}

/// `setAttributes({ key: value, ... })`: strings, numbers and booleans are kept as text;
/// `null` removes a key.
fn attributes(value: &JsValue) -> Result<Vec<(String, Option<String>)>, String> {
    let object = value
        .dyn_ref::<js_sys::Object>()
        .filter(|_| !js_sys::Array::is_array(value))
        .ok_or("give an object of keys and values")?;
    let mut changes = Vec::new();
    for entry in js_sys::Object::entries(object).iter() {
        let entry = js_sys::Array::from(&entry);
        let key = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let text = if value.is_null() || value.is_undefined() {
            None
        } else if let Some(s) = value.as_string() {
            Some(s)
        } else if value.as_f64().is_some() {
            // As the page's JavaScript writes the number (`String(n)`); Rust's float formatting
            // would also add about 6 KB to every visitor's download.
            value
                .unchecked_ref::<js_sys::Number>()
                .to_string_with_radix(10)
                .ok()
                .map(String::from)
        } else if let Some(b) = value.as_bool() {
            Some(b.to_string())
        } else {
            return Err(format!(
                "the value of \"{key}\" must be a string, number or boolean"
            ));
        };
        changes.push((key, text));
    }
    Ok(changes)
}
