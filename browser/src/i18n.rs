//! Translations for both apps: a catalogue is a text file of `key = text` lines (blank lines and
//! `#` comments are skipped), one file per language, so a translator edits plain text. A text
//! may name values in braces (`{n}`), which [`fill`] replaces.

use std::collections::HashMap;

/// One language's texts, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog(HashMap<String, String>);

impl Catalog {
    /// Reads a catalogue; a line without ` = ` is skipped (the tidy test names it).
    pub fn parse(text: &str) -> Catalog {
        Catalog(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .filter_map(|line| line.split_once(" = "))
                .map(|(key, text)| (key.trim().to_owned(), text.trim().to_owned()))
                .collect(),
        )
    }

    /// The text of `key`, if this catalogue has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}
