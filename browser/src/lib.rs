//! Browser plumbing shared by the widget and the console, so each of them holds only its own
//! logic: the browser driver of the client core's link ([`link`]), a WebSocket whose callbacks live
//! exactly as long as it does, one-shot timers, a GET with a deadline, UUIDv7 ids from the
//! browser's cryptographic generator, namespaced `localStorage`, and JSON read by the browser's
//! own parser ([`json`]).

pub mod files;
pub mod i18n;
pub mod json;
pub mod link;

pub use json::from_json;

use protocol::{ClientFrame, ConversationId, MessageId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// A WebSocket and its callbacks. Dropping it detaches the callbacks and closes the socket, so a
/// replaced connection can never deliver a late event.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens a connection to `url`. `on_text` receives every text frame; `on_close` runs once when
    /// the connection ends or fails to open.
    pub fn open(
        url: &str,
        on_open: impl FnMut() + 'static,
        mut on_text: impl FnMut(String) + 'static,
        mut on_close: impl FnMut() + 'static,
    ) -> Result<Socket, wasm_bindgen::JsValue> {
        let ws = WebSocket::new(url)?;
        let on_open = Closure::<dyn FnMut()>::new(on_open);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                on_text(text);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| on_close());
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends a frame if the connection is open; otherwise does nothing (the caller's outbox keeps
    /// whatever must not be lost).
    pub fn send(&self, frame: &ClientFrame) {
        if self.ws.ready_state() == WebSocket::OPEN {
            let _ = self.ws.send_with_str(&frame.encode());
        }
    }
}

impl Socket {
    /// Drops the socket on the next turn of the event loop. Used from inside the socket's own
    /// callbacks, which must not free the closure that is running.
    pub fn dispose_later(self) {
        set_timeout(0, move || drop(self));
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// `f` as a JavaScript function to be called once. Every callback made here is one type, so
/// wasm-bindgen's code for a one-time callback is in the download once rather than once for
/// each caller.
pub(crate) fn once_js(f: Box<dyn FnOnce()>) -> wasm_bindgen::JsValue {
    Closure::once_into_js(f)
}

/// Runs `f` once after `ms` milliseconds.
pub fn set_timeout(ms: u64, f: impl FnOnce() + 'static) {
    let callback = once_js(Box::new(f));
    if let Some(window) = web_sys::window() {
        let ms = ms.min(i32::MAX as u64) as i32;
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), ms);
    }
}

/// Milliseconds on a monotonic clock (`performance.now()`), for the link's timers.
pub fn monotonic_ms() -> u64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now() as u64)
        .unwrap_or_else(|| now_ms() as u64)
}

/// A random number from the browser's cryptographic generator (a seed for jitter).
pub fn random_u64() -> u64 {
    let bytes = random_bytes();
    // Copied rather than `try_into`: the conversion's error type would bring its formatting
    // into the widget's download.
    let mut eight = [0; 8];
    eight.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(eight)
}

/// GETs `url` within `timeout_ms`; `done` receives the status and the body, or `None` when the
/// request failed or timed out. `loadend` fires exactly once whatever happens, so the one callback
/// is always freed.
pub fn get_text(url: &str, timeout_ms: u64, done: impl FnOnce(Option<(u16, String)>) + 'static) {
    let Ok(request) = web_sys::XmlHttpRequest::new() else {
        done(None);
        return;
    };
    if request.open("GET", url).is_err() {
        done(None);
        return;
    }
    request.set_timeout(timeout_ms.min(u32::MAX as u64) as u32);
    let handle = request.clone();
    let on_end = once_js(Box::new(move || {
        let status = handle.status().unwrap_or(0);
        let body = handle.response_text().ok().flatten();
        done((status != 0).then_some(()).and(body.map(|b| (status, b))));
    }));
    request.set_onloadend(Some(on_end.unchecked_ref()));
    if request.send().is_err() {
        request.set_onloadend(None);
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Whether the page is visible now (not a background tab, not minimised).
pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}

/// Calls `changed` with the page's visibility whenever it changes, for the page's lifetime.
pub fn watch_visibility(changed: impl Fn(bool) + 'static) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let listener = Closure::<dyn FnMut()>::new(move || changed(page_visible()));
    let _ = document
        .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
    // The page keeps its listener until it unloads.
    listener.forget();
}

/// A moment (Unix ms) as the visitor's own clock shows it: the hours and minutes in their
/// locale and time zone ("14:05", "2:05 PM"), and the whole date and time for a tooltip, and
/// the ISO form for a `datetime` attribute. The browser's `Intl` does the work, so nothing is
/// shipped for it.
pub fn local_time(ms: i64) -> (String, String, String) {
    local_time_in(ms, "default")
}

/// [`local_time`] in the given locale (`ar`, `de-CH`) instead of the browser's.
pub fn local_time_in(ms: i64, locale: &str) -> (String, String, String) {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"hour".into(), &"2-digit".into());
    let _ = js_sys::Reflect::set(&options, &"minute".into(), &"2-digit".into());
    let short = date.to_locale_time_string_with_options(locale, &options);
    let full = date.to_locale_string(locale, &wasm_bindgen::JsValue::UNDEFINED);
    (short.into(), full.into(), date.to_iso_string().into())
}

/// A new message id (UUIDv7).
pub fn new_message_id() -> MessageId {
    MessageId::from_parts(now_ms() as u64, random_bytes())
}

/// A new conversation id (UUIDv7).
pub fn new_conversation_id() -> ConversationId {
    ConversationId::from_parts(now_ms() as u64, random_bytes())
}

/// Ten random bytes from the browser's cryptographic generator.
fn random_bytes() -> [u8; 10] {
    let mut bytes = [0u8; 10];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for byte in &mut bytes {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}

/// `localStorage` under a prefix. Every call tolerates storage being unavailable (private modes):
/// reads find nothing and writes are dropped, so the app works, only without surviving a reload.
pub struct LocalStore {
    /// `localStorage`, when the browser allows it.
    storage: Option<web_sys::Storage>,
    /// Prepended to every key, for example `livechat.acme.`.
    prefix: String,
}

impl LocalStore {
    /// Opens the store for keys starting with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        Self {
            storage,
            prefix: prefix.into(),
        }
    }

    /// Reads a string.
    pub fn get(&self, key: &str) -> Option<String> {
        self.storage
            .as_ref()?
            .get_item(&format!("{}{key}", self.prefix))
            .ok()
            .flatten()
    }

    /// Writes a string, or removes the key for `None`.
    pub fn set(&self, key: &str, value: Option<&str>) {
        let Some(storage) = &self.storage else { return };
        let key = format!("{}{key}", self.prefix);
        let _ = match value {
            Some(value) => storage.set_item(&key, value),
            None => storage.remove_item(&key),
        };
    }

    /// Reads a JSON value; an unreadable one counts as absent.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        from_json(&self.get(key)?)
    }

    /// Writes a JSON value (with `serde_json`, which writes integers above 2^53 exactly).
    pub fn set_json<T: Serialize>(&self, key: &str, value: &T) {
        // Our values have string keys only, so writing cannot fail; `expect` would bring the
        // formatting of serde_json's error into the widget's download.
        let text = serde_json::to_string(value)
            .unwrap_or_else(|_| unreachable!("stored values serialise"));
        self.set(key, Some(&text));
    }
}
