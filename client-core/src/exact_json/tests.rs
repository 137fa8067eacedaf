//! `exact_json` against `serde_json`, which reads every integer exactly: the marked text, read as
//! a browser reads it (doubles, then the reviver), must give back the document that was sent.

use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// What the browser's parser and the reviver make of `marked`, emulated: a number the text
/// still holds must fit a double exactly, and every string is revived.
fn parse_like_a_browser(marked: &str) -> Value {
    fn walk(value: Value) -> Value {
        match value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    assert!(i.unsigned_abs() < 1 << 53, "{i} would be rounded");
                } else if let Some(u) = n.as_u64() {
                    assert!(u < 1 << 53, "{u} would be rounded");
                }
                Value::Number(n)
            }
            Value::String(s) => match revive(&s) {
                Some(Revived::Integer(digits)) => serde_json::from_str(digits).unwrap(),
                Some(Revived::Text(text)) => Value::String(text.to_owned()),
                None => Value::String(s),
            },
            Value::Array(items) => Value::Array(items.into_iter().map(walk).collect()),
            Value::Object(fields) => {
                Value::Object(fields.into_iter().map(|(k, v)| (k, walk(v))).collect())
            }
            other => other,
        }
    }
    walk(serde_json::from_str(marked).expect("marked text is still JSON"))
}

#[test]
fn an_hlc_survives_exactly() {
    // An HLC value of today: above 2^53, its low bits the logical counter.
    let hlc: u64 = (1_796_000_000_000 << 16) | 3;
    let text = format!(r#"{{"type":"message","message":{{"hlc":{hlc},"seq":7,"body":"hi"}}}}"#);
    let marked = mark_large_integers(&text);
    assert_eq!(
        marked,
        format!(r#"{{"type":"message","message":{{"hlc":"\u0000{hlc}","seq":7,"body":"hi"}}}}"#)
    );
    assert_eq!(
        parse_like_a_browser(&marked)["message"]["hlc"].as_u64(),
        Some(hlc)
    );
}

#[test]
fn text_without_large_integers_or_marks_is_borrowed() {
    let text = r#"{"seq": 9007199254740991, "n": -9007199254740991, "f": 1.5e300, "s": "123456789012345678901"}"#;
    assert!(matches!(mark_large_integers(text), Cow::Borrowed(_)));
}

#[test]
fn the_limits_are_those_of_a_double() {
    assert!(!is_large_integer("9007199254740991"));
    assert!(is_large_integer("9007199254740992"));
    assert!(is_large_integer("-9007199254740992"));
    assert!(is_large_integer("18446744073709551615"));
    assert!(!is_large_integer("12345678901234567890.5"));
    assert!(!is_large_integer("1e30"));
    assert!(!is_large_integer("-"));
}

#[test]
fn a_string_starting_with_the_mark_stays_text_and_a_key_is_left_alone() {
    let text = r#"{"body":"\u0000123","\u0000key":"\u0000x","list":["\u0000", "plain"]}"#;
    let marked = mark_large_integers(text);
    assert_eq!(
        marked,
        r#"{"body":"\u0000\u0000123","\u0000key":"\u0000\u0000x","list":["\u0000\u0000", "plain"]}"#
    );
    assert_eq!(
        parse_like_a_browser(&marked),
        json!({"body": "\u{0}123", "\u{0}key": "\u{0}x", "list": ["\u{0}", "plain"]})
    );
}

#[test]
fn escaped_quotes_and_digits_inside_strings_are_not_numbers() {
    let text = r#"{"a":"say \"12345678901234567890\" \\","b":12345678901234567890}"#;
    assert_eq!(
        parse_like_a_browser(&mark_large_integers(text)),
        json!({"a": "say \"12345678901234567890\" \\", "b": 12345678901234567890u64})
    );
}

/// Any JSON value: what the server could send, and what a visitor could make it carry.
fn any_json() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        Just(String::new()),
        "[a-z0-9 \"\\\\]{0,12}",
        "\u{0}{1,2}[a-z0-9\"]{0,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..1 << 20).prop_map(|wall| Value::from(((1_700_000_000_000 + wall) << 16) | 1)),
        // Fractions and exponents stay numbers (exactly representable ones: serde_json's own
        // parser does not promise to read back every double it writes).
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
        Just(Value::from(1e300)),
        text.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn every_value_comes_back_exactly(value in any_json(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        prop_assert_eq!(parse_like_a_browser(&mark_large_integers(&text)), value);
    }
}
