//! Reading JSON with the browser's own parser (`JSON.parse`) and `serde-wasm-bindgen`, instead of
//! compiling a JSON parser into every app: the widget is downloaded by every visitor, and
//! `serde_json`'s reader with its monomorphised visitors was about 14 KB of it, gzipped.
//!
//! The browser's numbers are doubles, and every message carries an HLC value above 2^53, so the
//! text goes through [`client_core::exact_json::mark_large_integers`] first and the reviver turns
//! each marked value into a `BigInt`, which `serde-wasm-bindgen` reads as an exact `u64`. Writing
//! stays with `serde_json::to_string` (see [`crate::LocalStore::set_json`]): it is exact for such
//! numbers too, and `JSON.stringify` cannot write a `BigInt` at all.

use client_core::exact_json::{mark_large_integers, revive, Revived, MARK};
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

/// Parses `text` as a `T`; `None` when it is not JSON or not a `T`.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Option<T> {
    let marked = mark_large_integers(text);
    let value = REVIVER
        .with(|reviver| parse_reviving(&marked, reviver.as_ref().unchecked_ref()))
        .ok()?;
    serde_wasm_bindgen::from_value(value).ok()
}
