//! Reading JSON with the browser's own parser (`JSON.parse`) and `serde-wasm-bindgen`, instead of
//! compiling a JSON parser into every app: the widget is downloaded by every visitor, and
//! `serde_json`'s reader with its monomorphised visitors was about 13 KB of it, gzipped.
//!
//! The browser's numbers are doubles, and every message carries an HLC value above 2^53, so the
//! text goes through [`client_core::exact_json::mark_large_integers`] first and the reviver turns
//! each marked value into a `BigInt`, which `serde-wasm-bindgen` reads as an exact `u64`. Writing
//! stays with `serde_json::to_string` (see [`crate::LocalStore::set_json`]): it is exact for such
//! numbers too, and `JSON.stringify` cannot write a `BigInt` at all. Server frames are read by
//! [`server_frame_from_json`], without serde's buffering of internally tagged enums.

use client_core::exact_json::{mark_large_integers, revive, Revived, MARK};
use js_sys::Reflect;
use protocol::frames::by_type::{ServerFrameByType, FRAME_TAG, NESTED_TAGS};
use protocol::ServerFrame;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse(text, reviver)`; js-sys binds only the form without a reviver.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    fn parse_reviving(text: &str, reviver: &js_sys::Function) -> Result<JsValue, JsValue>;
}

thread_local! {
    /// One reviver for every parse: it keeps no state, and making a closure per frame would
    /// allocate a JavaScript function per frame.
    static REVIVER: Closure<dyn Fn(JsValue, JsValue) -> JsValue> =
        Closure::new(|_key: JsValue, value: JsValue| revived(value));
}

/// What the reviver returns for `value`: a marked string's `BigInt` or its original text, and
/// anything else as it is. Only strings starting with the mark cross into Rust.
fn revived(value: JsValue) -> JsValue {
    let Some(text) = value.dyn_ref::<js_sys::JsString>() else {
        return value;
    };
    if text.char_code_at(0) != f64::from(u32::from(MARK)) {
        return value;
    }
    let Some(text) = text.as_string() else {
        return value;
    };
    match revive(&text) {
        Some(Revived::Integer(digits)) => js_sys::BigInt::new(&JsValue::from_str(digits))
            .map(JsValue::from)
            .unwrap_or(value),
        Some(Revived::Text(original)) => JsValue::from_str(original),
        None => value,
    }
}

/// `text` parsed into a JavaScript value, exact for large integers; `None` when it is not JSON.
fn parse(text: &str) -> Option<JsValue> {
    let marked = mark_large_integers(text);
    REVIVER
        .with(|reviver| parse_reviving(&marked, reviver.as_ref().unchecked_ref()))
        .ok()
}

/// Parses `text` as a `T`; `None` when it is not JSON or not a `T`.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_wasm_bindgen::from_value(parse(text)?).ok()
}

/// Parses `text` as a server frame; `None` when it is not JSON or not a frame this client knows.
///
/// Each tagged value is put under its tag first and the frame read as its externally tagged twin
/// ([`ServerFrameByType`]), which spares the download serde's buffering of internally tagged
/// enums (see `protocol::frames::by_type`).
pub fn server_frame_from_json(text: &str) -> Option<ServerFrame> {
    let frame = parse(text)?;
    let kind = Reflect::get(&frame, &FRAME_TAG.into()).ok()?;
    for (in_kind, field, tag) in NESTED_TAGS {
        if kind.as_string().as_deref() == Some(*in_kind) {
            let nested = Reflect::get(&frame, &(*field).into()).ok()?;
            Reflect::set(&frame, &(*field).into(), &under_tag(nested, tag)?).ok()?;
        }
    }
    let twin: ServerFrameByType =
        serde_wasm_bindgen::from_value(under_tag(frame, FRAME_TAG)?).ok()?;
    Some(twin.into())
}

/// `{[value[tag]]: value}`: a value tagged by its field `tag`, put under that tag.
fn under_tag(value: JsValue, tag: &str) -> Option<JsValue> {
    let kind = Reflect::get(&value, &tag.into()).ok()?;
    kind.as_string()?;
    let outer = js_sys::Object::new();
    Reflect::set(&outer, &kind, &value).ok()?;
    Some(outer.into())
}
