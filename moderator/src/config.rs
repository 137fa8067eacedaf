//! The moderator's configuration: built-in defaults (the demo's two deployments on 8080 and 8081),
//! overridden by a TOML file, overridden by environment variables (`LIVECHAT_MODERATOR_*`) and
//! flags.

use crate::decision::Thresholds;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One deployment the moderator watches.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Its name: the same as its own `deployment` setting.
    pub id: String,
    /// Its base URL, for probes and pushes, and published to clients.
    pub url: String,
}

/// Everything the moderator needs to run.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the moderator's own HTTP API listens.
    pub listen: SocketAddr,
    /// Where the decision log is kept.
    pub data_dir: PathBuf,
    /// The primary deployment.
    pub primary: Endpoint,
    /// The redundant deployment.
    pub redundant: Endpoint,
    /// How often each deployment is probed, in ms.
    pub check_interval_ms: u64,
    /// How long a probe may take before it counts as failed, in ms.
    pub probe_timeout_ms: u64,
    /// Consecutive failed probes before a deployment counts as down.
    pub failures_to_down: u32,
    /// Consecutive good probes before a down deployment counts as up.
    pub successes_to_up: u32,
    /// How long the primary must be up and synchronised before failback, in ms.
    pub failback_hold_ms: u64,
    /// The bearer secret of the admin API (manual failover); the admin API refuses every call
    /// when absent.
    pub admin_secret: Option<String>,
    /// The secret the deployments know as their `moderator_secret`; decisions are not pushed to
    /// them when absent (they then learn nothing, and clients rely on `/v1/active` alone).
    pub deployment_secret: Option<String>,
    /// A PEM certificate chain: with `tls_key_file`, the moderator serves HTTPS itself.
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// PEM certificates trusted besides the system's roots when probing and pushing to
    /// `https://` deployments (a private CA).
    pub tls_ca_file: Option<PathBuf>,
    /// Allows the deployment secret to travel over plain `http://` to deployments that are not
    /// on loopback (a private network you trust). Off: such a configuration is refused.
    pub allow_plain_http_secrets: bool,
    /// How log lines look: `text` for people, `json` for one object per line.
    pub log_format: daemon::logging::LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        let thresholds = Thresholds::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            data_dir: PathBuf::from("moderator-data"),
            primary: Endpoint {
                id: "primary".into(),
                url: "http://127.0.0.1:8080".into(),
            },
            redundant: Endpoint {
                id: "redundant".into(),
                url: "http://127.0.0.1:8081".into(),
            },
            check_interval_ms: 250,
            probe_timeout_ms: 250,
            failures_to_down: thresholds.failures_to_down,
            successes_to_up: thresholds.successes_to_up,
            failback_hold_ms: thresholds.failback_hold_ms,
            admin_secret: None,
            deployment_secret: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_file: None,
            allow_plain_http_secrets: false,
            log_format: daemon::logging::LogFormat::Text,
        }
    }
}

/// The settings that may come from flags or environment variables; each overrides the file.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    /// A TOML configuration file.
    #[arg(long, env = "LIVECHAT_MODERATOR_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The address to listen on, for example 127.0.0.1:8090.
    #[arg(long, env = "LIVECHAT_MODERATOR_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Where the decision log is kept.
    #[arg(long, env = "LIVECHAT_MODERATOR_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// How log lines look: `text` or `json`.
    #[arg(long, env = "LIVECHAT_MODERATOR_LOG_FORMAT", global = true)]
    pub log_format: Option<daemon::logging::LogFormat>,
    /// The primary deployment's base URL.
    #[arg(long, env = "LIVECHAT_MODERATOR_PRIMARY_URL", global = true)]
    pub primary_url: Option<String>,
    /// The redundant deployment's base URL.
    #[arg(long, env = "LIVECHAT_MODERATOR_REDUNDANT_URL", global = true)]
    pub redundant_url: Option<String>,
    /// How often each deployment is probed, in ms.
    #[arg(long, env = "LIVECHAT_MODERATOR_CHECK_INTERVAL_MS", global = true)]
    pub check_interval_ms: Option<u64>,
    /// How long a probe may take, in ms.
    #[arg(long, env = "LIVECHAT_MODERATOR_PROBE_TIMEOUT_MS", global = true)]
    pub probe_timeout_ms: Option<u64>,
    /// How long the primary must be up and synchronised before failback, in ms.
    #[arg(long, env = "LIVECHAT_MODERATOR_FAILBACK_HOLD_MS", global = true)]
    pub failback_hold_ms: Option<u64>,
    /// The admin API's bearer secret.
    #[arg(
        long,
        env = "LIVECHAT_MODERATOR_ADMIN_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub admin_secret: Option<String>,
    /// The secret the deployments know as their `moderator_secret`.
    #[arg(
        long,
        env = "LIVECHAT_MODERATOR_DEPLOYMENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub deployment_secret: Option<String>,
    /// A PEM certificate chain to serve HTTPS with (with `--tls-key-file`).
    #[arg(long, env = "LIVECHAT_MODERATOR_TLS_CERT_FILE", global = true)]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of the certificate.
    #[arg(long, env = "LIVECHAT_MODERATOR_TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<PathBuf>,
    /// PEM certificates to trust besides the system's, for the deployments.
    #[arg(long, env = "LIVECHAT_MODERATOR_TLS_CA_FILE", global = true)]
    pub tls_ca_file: Option<PathBuf>,
}

pub use daemon::config::ConfigError;
use daemon::config::{set, set_some, Layered};

impl Config {
    /// Defaults, then the file named in `overrides` (if any), then the overrides themselves.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        daemon::config::load(overrides.config.as_deref(), overrides)
    }

    /// The decision's tuning.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            failures_to_down: self.failures_to_down,
            successes_to_up: self.successes_to_up,
            failback_hold_ms: self.failback_hold_ms,
        }
    }

    /// Where the decision log is.
    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("decisions.jsonl")
    }
}

impl Layered for Config {
    type Overrides = Overrides;

    fn apply(&mut self, o: &Overrides) {
        set(&mut self.listen, &o.listen);
        set(&mut self.data_dir, &o.data_dir);
        set(&mut self.log_format, &o.log_format);
        set(&mut self.primary.url, &o.primary_url);
        set(&mut self.redundant.url, &o.redundant_url);
        set(&mut self.check_interval_ms, &o.check_interval_ms);
        set(&mut self.probe_timeout_ms, &o.probe_timeout_ms);
        set(&mut self.failback_hold_ms, &o.failback_hold_ms);
        set_some(&mut self.admin_secret, &o.admin_secret);
        set_some(&mut self.deployment_secret, &o.deployment_secret);
        set_some(&mut self.tls_cert_file, &o.tls_cert_file);
        set_some(&mut self.tls_key_file, &o.tls_key_file);
        set_some(&mut self.tls_ca_file, &o.tls_ca_file);
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.primary.id == self.redundant.id {
            return invalid("the primary and the redundant deployment need different ids");
        }
        for endpoint in [&self.primary, &self.redundant] {
            if !(endpoint.url.starts_with("http://") || endpoint.url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "the URL of {} must start with http:// or https://",
                    endpoint.id
                )));
            }
        }
        if self.check_interval_ms == 0 || self.probe_timeout_ms == 0 {
            return invalid("check_interval_ms and probe_timeout_ms must be above 0");
        }
        if self.failures_to_down == 0 || self.successes_to_up == 0 {
            return invalid("failures_to_down and successes_to_up must be at least 1");
        }
        if self.deployment_secret.is_some() {
            for endpoint in [&self.primary, &self.redundant] {
                daemon::tls::secret_may_travel_to(
                    &endpoint.url,
                    "the deployment secret",
                    self.allow_plain_http_secrets,
                )
                .map_err(ConfigError::Invalid)?;
            }
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return invalid("tls_cert_file and tls_key_file go together");
        }
        for secret in [&self.admin_secret, &self.deployment_secret] {
            if secret.as_ref().is_some_and(|s| s.len() < 16) {
                return invalid("admin_secret and deployment_secret need at least 16 characters");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("moderator.toml");
        std::fs::write(
            &file,
            "check_interval_ms = 100\n[primary]\nid = \"a\"\nurl = \"https://a.example\"\n",
        )
        .unwrap();
        let overrides = Overrides {
            config: Some(file),
            check_interval_ms: Some(50),
            ..Default::default()
        };
        let config = Config::load(&overrides).unwrap();
        assert_eq!(config.check_interval_ms, 50);
        assert_eq!(config.primary.id, "a");
        assert_eq!(config.redundant, Config::default().redundant);
    }

    #[test]
    fn bad_values_are_refused() {
        let bad_url = Overrides {
            redundant_url: Some("ftp://b.example".into()),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&bad_url),
            Err(ConfigError::Invalid(_))
        ));
        let short = Overrides {
            admin_secret: Some("short".into()),
            ..Default::default()
        };
        assert!(matches!(Config::load(&short), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn the_deployment_secret_is_not_sent_over_plain_http_beyond_loopback() {
        let config = |url: &str, allow: bool| Config {
            primary: Endpoint {
                id: "primary".into(),
                url: url.into(),
            },
            deployment_secret: Some("deployment secret for tests".into()),
            allow_plain_http_secrets: allow,
            ..Config::default()
        };
        let refused = config("http://chat-a.example", false).validate();
        assert!(
            matches!(refused, Err(ConfigError::Invalid(m)) if m.contains("allow_plain_http_secrets"))
        );
        assert!(config("http://chat-a.example", true).validate().is_ok());
        assert!(config("https://chat-a.example", false).validate().is_ok());
    }
}
