//! Configuration: built-in defaults, overridden by a TOML file, overridden by environment variables
//! (`LIVECHAT_*`) and command-line flags (clap merges those two).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything a deployment needs to run.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where the database and the generated secret live.
    pub data_dir: PathBuf,
    /// A built static site (`widget/`, `console/` and the loader) to serve instead of the one
    /// built into the binary; when absent, the built-in one is served if the binary has one.
    pub assets_dir: Option<PathBuf>,
    /// The HMAC key for visitor tokens. When absent, one is generated and kept in the data
    /// directory. Deployments that must accept each other's visitors are configured with the same.
    pub token_secret: Option<String>,
    /// The largest message body accepted, in bytes of UTF-8 text.
    pub max_message_bytes: usize,
    /// The largest HTTP request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long an operator stays logged in, in hours.
    pub session_ttl_hours: i64,
    /// How long a visitor token is valid, in days; renewed on every connection.
    pub visitor_token_ttl_days: i64,
    /// This deployment's name (`primary`, `redundant`): the origin of the events it records.
    /// It must never change for a data directory.
    pub deployment: String,
    /// The peer deployment's base URL (`https://chat-b.example.com`); no replication when absent.
    pub peer_url: Option<String>,
    /// The secret both deployments present on the replication link.
    pub replication_secret: Option<String>,
    /// The secret the moderator presents when it pushes its decision (`POST /v1/role`); no
    /// moderator is accepted when absent.
    pub moderator_secret: Option<String>,
    /// Both deployments' public base URLs, primary first, told to the console
    /// (`/v1/client-config`) so it can carry on at the other deployment.
    pub public_urls: Vec<String>,
    /// The moderator's public base URL, told to the console.
    pub moderator_url: Option<String>,
    /// The moderator's admin secret, so that an admin's failover panel can pin and release
    /// through this deployment (the secret never reaches a browser); no panel actions when
    /// absent.
    pub moderator_admin_secret: Option<String>,
    /// Shifts this deployment's wall clock, in milliseconds. For tests and fault injection only:
    /// the hybrid logical clock must keep order correct whatever the skew.
    pub clock_skew_ms: i64,
    /// Login attempts one client address may make per minute (a burst of this many, then one
    /// every 60/n seconds), whatever their outcome.
    pub login_attempts_per_minute_per_address: u32,
    /// Login attempts per minute for one e-mail address, whether or not an account has it.
    pub login_attempts_per_minute_per_account: u32,
    /// Login attempts per hour for one e-mail address: past the minute's allowance, the wait
    /// grows to 3600/n seconds per attempt.
    pub login_attempts_per_hour_per_account: u32,
    /// Threads that check passwords (argon2id, 19 MiB each); never the threads reads use.
    pub password_check_threads: usize,
    /// Logins that may wait for a password checker; one more is refused at once (429).
    pub password_check_queue: usize,
    /// New visitors (a `hello` without a token) one client address may create per minute.
    pub new_visitors_per_minute_per_address: u32,
    /// Conversations one visitor may open per hour.
    pub new_conversations_per_hour_per_visitor: u32,
    /// Messages one connection may send per minute (a burst of as many); one more is refused and
    /// the connection closed, and the client sends it again after reconnecting.
    pub messages_per_minute_per_connection: u32,
    /// Typing notices one connection may send per minute after repeats are coalesced; more are
    /// dropped.
    pub typing_per_minute_per_connection: u32,
    /// WebSockets one client address may hold open.
    pub max_connections_per_address: usize,
    /// WebSockets the deployment holds open in all.
    pub max_connections: usize,
    /// Seconds a welcomed connection may stay silent (clients ping every second) before it is
    /// closed.
    pub idle_timeout_secs: u64,
    /// A PEM certificate chain: with `tls_key_file`, the deployment serves HTTPS and WSS itself
    /// (otherwise plain HTTP, for a proxy in front that terminates TLS).
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// PEM certificates trusted besides the system's roots when this deployment connects to its
    /// peer over `https://` (a private CA between the data centres).
    pub tls_ca_file: Option<PathBuf>,
    /// Allows the replication secret to travel over plain `http://` to a peer that is not on
    /// loopback (a private network you trust). Off: such a configuration is refused.
    pub allow_plain_http_secrets: bool,
    /// How log lines look: `text` for people, `json` for one object per line with the
    /// deployment's name and the request id.
    pub log_format: daemon::logging::LogFormat,
    /// Reverse proxies in front of the deployment, by address: from them, the client's address
    /// for the per-address limits is taken from `X-Forwarded-For`. From nobody else.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long browsers and caches may keep a site's widget configuration
    /// (`/v1/sites/{id}/widget-config`), in seconds: a change of look reaches visitors' next page
    /// load within this time.
    pub widget_config_max_age_secs: u64,
    /// After how many seconds without keyboard or mouse input a console sets its operator away
    /// (0: never). Announced to consoles in their welcome.
    pub operator_idle_away_secs: u64,
    /// The mail server for offline messages and transcripts, as a URL: `smtp://host:25`
    /// (plain, for a relay on the same machine), `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://user:password@host:465`. No e-mail is sent without one.
    pub smtp_url: Option<String>,
    /// The sender of the deployment's e-mails.
    pub mail_from: String,
    /// How many times a visitor may have one conversation's transcript e-mailed.
    pub transcript_emails_per_conversation: u32,
    /// The largest file a visitor or an operator may send, in bytes.
    pub max_file_bytes: usize,
    /// The media types files may have (anything else is refused before it is stored).
    pub file_types: Vec<String>,
    /// How many files one address may upload per minute.
    pub uploads_per_minute_per_address: u32,
    /// Scheduled backups (`[backup]`).
    pub backup: crate::backup::plan::Schedule,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            assets_dir: None,
            token_secret: None,
            max_message_bytes: protocol::DEFAULT_MAX_MESSAGE_BYTES,
            max_body_bytes: 16 * 1024,
            session_ttl_hours: 24 * 7,
            visitor_token_ttl_days: 365,
            deployment: "primary".into(),
            peer_url: None,
            replication_secret: None,
            moderator_secret: None,
            public_urls: Vec::new(),
            moderator_url: None,
            moderator_admin_secret: None,
            clock_skew_ms: 0,
            login_attempts_per_minute_per_address: 30,
            login_attempts_per_minute_per_account: 10,
            login_attempts_per_hour_per_account: 30,
            password_check_threads: 2,
            password_check_queue: 32,
            new_visitors_per_minute_per_address: 60,
            new_conversations_per_hour_per_visitor: 20,
            messages_per_minute_per_connection: 120,
            typing_per_minute_per_connection: 120,
            max_connections_per_address: 256,
            max_connections: 10_000,
            idle_timeout_secs: 120,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_file: None,
            allow_plain_http_secrets: false,
            log_format: daemon::logging::LogFormat::Text,
            trusted_proxies: Vec::new(),
            widget_config_max_age_secs: 30,
            operator_idle_away_secs: 600,
            smtp_url: None,
            mail_from: "LiveChat <livechat@localhost>".into(),
            transcript_emails_per_conversation: 3,
            max_file_bytes: 10 * 1024 * 1024,
            file_types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "text/plain",
                "text/csv",
                "application/zip",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ]
            .map(String::from)
            .to_vec(),
            uploads_per_minute_per_address: 30,
            backup: Default::default(),
        }
    }
}

/// The settings that may come from flags or environment variables; each overrides the file.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    /// A TOML configuration file.
    #[arg(long, env = "LIVECHAT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The address to listen on, for example 127.0.0.1:8080.
    #[arg(long, env = "LIVECHAT_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// The data directory.
    #[arg(long, env = "LIVECHAT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A built static site to serve instead of the one built into the binary.
    #[arg(long, env = "LIVECHAT_ASSETS_DIR", global = true)]
    pub assets_dir: Option<PathBuf>,
    /// How log lines look: `text` or `json`.
    #[arg(long, env = "LIVECHAT_LOG_FORMAT", global = true)]
    pub log_format: Option<daemon::logging::LogFormat>,
    /// The HMAC key for visitor tokens.
    #[arg(
        long,
        env = "LIVECHAT_TOKEN_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub token_secret: Option<String>,
    /// The largest message body accepted, in bytes.
    #[arg(long, env = "LIVECHAT_MAX_MESSAGE_BYTES", global = true)]
    pub max_message_bytes: Option<usize>,
    /// This deployment's name, for example `primary` or `redundant`.
    #[arg(long, env = "LIVECHAT_DEPLOYMENT", global = true)]
    pub deployment: Option<String>,
    /// The mail server, for example `smtp://127.0.0.1:25` or `smtps://user:pass@mail.example.com`.
    #[arg(long, env = "LIVECHAT_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of the deployment's e-mails, for example `Acme chat <chat@acme.example>`.
    #[arg(long, env = "LIVECHAT_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// The peer deployment's base URL, for replication.
    #[arg(long, env = "LIVECHAT_PEER_URL", global = true)]
    pub peer_url: Option<String>,
    /// The secret shared with the peer deployment.
    #[arg(
        long,
        env = "LIVECHAT_REPLICATION_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub replication_secret: Option<String>,
    /// The secret the moderator presents when it pushes its decision.
    #[arg(
        long,
        env = "LIVECHAT_MODERATOR_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub moderator_secret: Option<String>,
    /// Both deployments' public base URLs, primary first (comma-separated).
    #[arg(
        long = "public-urls",
        env = "LIVECHAT_PUBLIC_URLS",
        global = true,
        value_delimiter = ','
    )]
    pub public_urls: Option<Vec<String>>,
    /// The moderator's public base URL.
    #[arg(long, env = "LIVECHAT_MODERATOR_URL", global = true)]
    pub moderator_url: Option<String>,
    /// The moderator's admin secret (for the admins' failover panel).
    #[arg(
        long,
        env = "LIVECHAT_MODERATOR_ADMIN_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub moderator_admin_secret: Option<String>,
    /// Shifts this deployment's wall clock (tests and fault injection only).
    #[arg(
        long,
        env = "LIVECHAT_CLOCK_SKEW_MS",
        global = true,
        allow_hyphen_values = true
    )]
    pub clock_skew_ms: Option<i64>,
    /// A PEM certificate chain to serve HTTPS with (with `--tls-key-file`).
    #[arg(long, env = "LIVECHAT_TLS_CERT_FILE", global = true)]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of the certificate.
    #[arg(long, env = "LIVECHAT_TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<PathBuf>,
    /// PEM certificates to trust besides the system's, for the peer.
    #[arg(long, env = "LIVECHAT_TLS_CA_FILE", global = true)]
    pub tls_ca_file: Option<PathBuf>,
    /// The scheduled backups.
    #[command(flatten)]
    pub backup: crate::backup::plan::Flags,
}

pub use daemon::config::ConfigError;
use daemon::config::{set, set_some, Layered};

impl Config {
    /// Defaults, then the file named in `overrides` (if any), then the overrides themselves.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        daemon::config::load(overrides.config.as_deref(), overrides)
    }

    /// The deployment's file rules, as the apps are told them.
    pub fn file_rules(&self) -> protocol::files::FileRules {
        protocol::files::FileRules {
            max_bytes: self.max_file_bytes as u64,
            types: self.file_types.clone(),
        }
    }

    /// Opens this deployment's database under its name and (possibly skewed) clock.
    pub fn open_store(&self) -> Result<crate::store::Store, crate::store::StoreError> {
        crate::store::Store::open_as(
            &self.data_dir,
            &self.deployment,
            crate::clock::system_clock(self.clock_skew_ms),
        )
    }

    /// The visitor-token secret: the configured one, or the one kept in the data directory
    /// (created on first start with owner-only permissions).
    pub fn resolve_secret(&self) -> std::io::Result<String> {
        if let Some(secret) = &self.token_secret {
            return Ok(secret.clone());
        }
        let path = self.data_dir.join("token-secret");
        match std::fs::read_to_string(&path) {
            Ok(secret) if !secret.trim().is_empty() => Ok(secret.trim().to_owned()),
            _ => {
                std::fs::create_dir_all(&self.data_dir)?;
                let secret = crate::auth::new_secret();
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, &secret)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
                }
                std::fs::rename(&tmp, &path)?;
                Ok(secret)
            }
        }
    }
}

impl Layered for Config {
    type Overrides = Overrides;

    fn apply(&mut self, o: &Overrides) {
        set(&mut self.listen, &o.listen);
        set(&mut self.data_dir, &o.data_dir);
        set_some(&mut self.assets_dir, &o.assets_dir);
        set(&mut self.log_format, &o.log_format);
        set_some(&mut self.token_secret, &o.token_secret);
        set(&mut self.max_message_bytes, &o.max_message_bytes);
        set(&mut self.deployment, &o.deployment);
        set_some(&mut self.peer_url, &o.peer_url);
        set_some(&mut self.replication_secret, &o.replication_secret);
        set_some(&mut self.moderator_secret, &o.moderator_secret);
        set(&mut self.public_urls, &o.public_urls);
        set_some(&mut self.moderator_url, &o.moderator_url);
        set_some(&mut self.moderator_admin_secret, &o.moderator_admin_secret);
        set(&mut self.clock_skew_ms, &o.clock_skew_ms);
        set_some(&mut self.tls_cert_file, &o.tls_cert_file);
        set_some(&mut self.tls_key_file, &o.tls_key_file);
        set_some(&mut self.tls_ca_file, &o.tls_ca_file);
        set_some(&mut self.smtp_url, &o.smtp_url);
        set(&mut self.mail_from, &o.mail_from);
        self.backup.apply(&o.backup);
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.backup.validate().map_err(ConfigError::Invalid)?;
        if self.max_message_bytes == 0 || self.max_message_bytes > 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "max_message_bytes must be between 1 and 1048576".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        if self.deployment.is_empty()
            || !self
                .deployment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::Invalid(
                "deployment must be a non-empty name of letters, digits, - and _".into(),
            ));
        }
        if self.peer_url.is_some()
            && self
                .replication_secret
                .as_ref()
                .is_none_or(|s| s.len() < 16)
        {
            return Err(ConfigError::Invalid(
                "a peer_url needs a replication_secret of at least 16 characters".into(),
            ));
        }
        if let Some(peer) = &self.peer_url {
            daemon::tls::secret_may_travel_to(
                peer,
                "the replication secret",
                self.allow_plain_http_secrets,
            )
            .map_err(ConfigError::Invalid)?;
        }
        if let Some(url) = &self.smtp_url {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).map_err(|e| {
                ConfigError::Invalid(format!("smtp_url is not a mail server URL: {e}"))
            })?;
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "mail_from `{}` is not an address (`Name <user@host>` or `user@host`)",
                self.mail_from
            )));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert_file and tls_key_file go together".into(),
            ));
        }
        if let Some(secret) = &self.moderator_admin_secret {
            if secret.len() < 16 {
                return Err(ConfigError::Invalid(
                    "moderator_admin_secret must be at least 16 characters".into(),
                ));
            }
            let url = self.moderator_url.as_deref().ok_or_else(|| {
                ConfigError::Invalid("moderator_admin_secret needs a moderator_url".into())
            })?;
            daemon::tls::secret_may_travel_to(
                url,
                "the moderator's admin secret",
                self.allow_plain_http_secrets,
            )
            .map_err(ConfigError::Invalid)?;
        }
        if self.moderator_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(ConfigError::Invalid(
                "moderator_secret must be at least 16 characters".into(),
            ));
        }
        if self.login_attempts_per_minute_per_address == 0
            || self.login_attempts_per_minute_per_account == 0
            || self.login_attempts_per_hour_per_account == 0
            || self.password_check_threads == 0
            || self.password_check_queue == 0
        {
            return Err(ConfigError::Invalid(
                "the login limits, password_check_threads and password_check_queue must be at least 1"
                    .into(),
            ));
        }
        let limits = [
            self.new_visitors_per_minute_per_address,
            self.new_conversations_per_hour_per_visitor,
            self.messages_per_minute_per_connection,
            self.typing_per_minute_per_connection,
        ];
        if limits.contains(&0)
            || self.max_connections_per_address == 0
            || self.max_connections == 0
            || self.idle_timeout_secs < 5
        {
            return Err(ConfigError::Invalid(
                "the visitor, message, typing and connection limits must be at least 1, and \
                 idle_timeout_secs at least 5"
                    .into(),
            ));
        }
        if self.token_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(ConfigError::Invalid(
                "token_secret must be at least 16 characters".into(),
            ));
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
        let file = dir.path().join("livechat.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_message_bytes = 100\n",
        )
        .unwrap();
        let overrides = Overrides {
            config: Some(file.clone()),
            max_message_bytes: Some(200),
            ..Default::default()
        };
        let config = Config::load(&overrides).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.max_message_bytes, 200);
        assert_eq!(
            config.session_ttl_hours,
            Config::default().session_ttl_hours
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("livechat.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let overrides = Overrides {
            config: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&overrides),
            Err(ConfigError::Parse { .. })
        ));
        let overrides = Overrides {
            max_message_bytes: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            Config::load(&overrides),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn the_moderators_admin_secret_needs_a_moderator_over_a_safe_link() {
        let secret = Some("moderator admin secret".to_owned());
        let load = |url: Option<&str>, secret: Option<String>| {
            Config::load(&Overrides {
                moderator_url: url.map(str::to_owned),
                moderator_admin_secret: secret,
                ..Default::default()
            })
        };
        assert!(
            matches!(load(None, secret.clone()), Err(ConfigError::Invalid(e)) if e.contains("moderator_url"))
        );
        assert!(matches!(
            load(Some("http://127.0.0.1:8082"), Some("short".into())),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            load(Some("http://moderator.example.com"), secret.clone()),
            Err(ConfigError::Invalid(_))
        ));
        assert!(load(Some("http://127.0.0.1:8082"), secret.clone()).is_ok());
        assert!(load(Some("https://moderator.example.com"), secret).is_ok());
    }

    #[test]
    fn a_generated_secret_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let first = config.resolve_secret().unwrap();
        assert_eq!(config.resolve_secret().unwrap(), first);
    }
}
