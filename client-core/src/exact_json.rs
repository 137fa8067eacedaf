//! JSON text made safe for a parser whose numbers are doubles, such as the browser's `JSON.parse`.
//!
//! A double holds every integer up to 2^53 - 1 exactly and rounds the ones above. The protocol
//! has such integers in every message: a hybrid logical clock value is the wall clock in
//! milliseconds shifted left by 16 bits (about 2^57 today), and the transcript's order and the
//! read receipts compare those values. The browser clients therefore parse with
//! [`mark_large_integers`] first: each integer literal too large for a double becomes a string
//! value starting with [`MARK`], which the parser's reviver turns into a `BigInt` (exact, and read
//! as a `u64` or `i64` by `serde-wasm-bindgen`); [`revive`] says what each string means. A string
//! value that already starts with [`MARK`] (text a visitor typed could) gets a second one, which
//! the reviver removes, so no text is ever taken for a number. Object keys are never marked.

use std::borrow::Cow;

/// The first character of a string value that [`mark_large_integers`] made or changed.
pub const MARK: char = '\u{0}';

/// [`MARK`] as written inside a JSON string (control characters are always escaped in JSON).
const MARK_ESCAPE: &str = "\\u0000";

/// The largest integer a double holds exactly, and every one below it (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: &str = "9007199254740991";

/// `text` with every integer literal beyond ±(2^53 - 1) written as a marked string, and every
/// string value that starts with [`MARK`] marked once more. Text without either comes back
/// borrowed. Invalid JSON stays invalid (the parser then refuses it as before).
pub fn mark_large_integers(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // Bytes of `text` before this index are in `out` already (only once something changed).
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i);
                let is_key = next_structural(bytes, end) == Some(b':');
                if !is_key && text[i + 1..].starts_with(MARK_ESCAPE) {
                    out.push_str(&text[copied..=i]);
                    out.push_str(MARK_ESCAPE);
                    copied = i + 1;
                }
                i = end;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, i);
                let token = &text[i..end];
                if is_large_integer(token) {
                    out.push_str(&text[copied..i]);
                    out.push('"');
                    out.push_str(MARK_ESCAPE);
                    out.push_str(token);
                    out.push('"');
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// What a parsed string value stands for, once [`mark_large_integers`] went over the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revived<'a> {
    /// An integer too large for a double, in decimal (maybe with a leading `-`).
    Integer(&'a str),
    /// A string that started with [`MARK`]; this is it as it was sent.
    Text(&'a str),
}

/// What the string value `parsed` stands for, or `None` when it is itself (it does not start
/// with [`MARK`]).
pub fn revive(parsed: &str) -> Option<Revived<'_>> {
    let rest = parsed.strip_prefix(MARK)?;
    Some(if rest.starts_with(MARK) {
        Revived::Text(rest)
    } else {
        Revived::Integer(rest)
    })
}

/// The index just past the string starting at `start` (its opening quote), or the end of the
/// text when it is not closed.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The first byte at or after `from` that is not JSON whitespace.
fn next_structural(bytes: &[u8], from: usize) -> Option<u8> {
    bytes[from.min(bytes.len())..]
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// The index just past the number token starting at `start`.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
        i += 1;
    }
    i
}

/// Whether `token` is an integer (no fraction, no exponent) whose magnitude is above
/// [`MAX_SAFE_INTEGER`].
fn is_large_integer(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = digits.trim_start_matches('0');
    match digits.len().cmp(&MAX_SAFE_INTEGER.len()) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        // Same length: decimal strings compare like their values.
        std::cmp::Ordering::Equal => digits > MAX_SAFE_INTEGER,
    }
}

#[cfg(test)]
mod tests;
