//! Translations for both apps: a catalogue is a text file of `key = text` lines (blank lines and
//! `#` comments are skipped), one file per language, so a translator edits plain text. A text
//! may name values in braces (`{n}`), which [`fill`] replaces.

/// One language's texts, by key: a list searched from the end (a key given twice means its last
/// text). A hundred-odd keys are looked up faster than a render notices, and a list keeps a hash
/// table's code out of every visitor's download.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog(Vec<(String, String)>);

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
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, text)| text.as_str())
    }
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}
