//! Configuration in layers: built-in defaults, overridden by a TOML file, overridden by
//! environment variables and command-line flags (clap merges those two into one `Overrides`
//! value, flags winning). A program describes its settings by implementing [`Layered`]; [`load`]
//! does the rest the same way for every program.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or ill-typed keys.
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: toml::de::Error,
    },
    /// A value is out of range, or settings contradict each other.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A program's settings. `Default` is the bottom layer; the type must refuse unknown keys
/// (`#[serde(deny_unknown_fields)]`) so a misspelt setting is an error, not silently ignored.
pub trait Layered: DeserializeOwned + Default {
    /// The settings that come from flags and environment variables, each optional.
    type Overrides;

    /// Applies every override that is set on top of `self`.
    fn apply(&mut self, overrides: &Self::Overrides);

    /// Checks the result as a whole.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// Defaults, then `file` (the TOML file the overrides name, if any), then the overrides; then
/// validation.
pub fn load<C: Layered>(file: Option<&Path>, overrides: &C::Overrides) -> Result<C, ConfigError> {
    let mut config = match file {
        Some(path) => from_file(path)?,
        None => C::default(),
    };
    config.apply(overrides);
    config.validate()?;
    Ok(config)
}

fn from_file<C: DeserializeOwned>(path: &Path) -> Result<C, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Sets `target` to the override when there is one.
pub fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(value) = value {
        *target = value.clone();
    }
}

/// Sets an optional `target` to the override when there is one.
pub fn set_some<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
    if let Some(value) = value {
        *target = Some(value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        port: u16,
        name: String,
    }

    impl Default for Settings {
        fn default() -> Self {
            Self {
                port: 1,
                name: "default".into(),
            }
        }
    }

    #[derive(Default)]
    struct Flags {
        port: Option<u16>,
    }

    impl Layered for Settings {
        type Overrides = Flags;
        fn apply(&mut self, overrides: &Flags) {
            set(&mut self.port, &overrides.port);
        }
        fn validate(&self) -> Result<(), ConfigError> {
            if self.port == 0 {
                return Err(ConfigError::Invalid("port must not be 0".into()));
            }
            Ok(())
        }
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "port = 7\nname = \"file\"\n").unwrap();
        let from_file: Settings = load(Some(&file), &Flags::default()).unwrap();
        assert_eq!((from_file.port, from_file.name.as_str()), (7, "file"));
        let flagged: Settings = load(Some(&file), &Flags { port: Some(9) }).unwrap();
        assert_eq!((flagged.port, flagged.name.as_str()), (9, "file"));
        let defaults: Settings = load(None, &Flags::default()).unwrap();
        assert_eq!((defaults.port, defaults.name.as_str()), (1, "default"));
    }

    #[test]
    fn unknown_keys_missing_files_and_invalid_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "prot = 7\n").unwrap();
        assert!(matches!(
            load::<Settings>(Some(&file), &Flags::default()),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            load::<Settings>(Some(&dir.path().join("absent.toml")), &Flags::default()),
            Err(ConfigError::Read { .. })
        ));
        assert!(matches!(
            load::<Settings>(None, &Flags { port: Some(0) }),
            Err(ConfigError::Invalid(_))
        ));
    }
}
