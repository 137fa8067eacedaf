//! What every request handler and socket shares ([`AppState`]), and why a deployment could not
//! start ([`StartError`]).

use crate::auth::TokenSigner;
use crate::config::Config;
use crate::hub::Hub;
use crate::replication::link::LinkState;
use crate::role::Role;
use crate::store::{Store, StoreError};
use crate::throttle::{Connections, LoginGuard, VisitorLimits};
use std::sync::Arc;
use tokio::sync::watch;

/// What every request handler shares: one pointer, so a clone costs a reference count and every
/// open WebSocket (which holds one for its life, twice: its loop and its session) a few bytes,
/// not the hundreds the fields take.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The deployment's shared parts, reached through [`AppState`].
pub struct Shared {
    /// The database.
    pub store: Store,
    /// Signs and checks visitor tokens.
    pub signer: TokenSigner,
    /// Fan-out of committed changes to open WebSockets.
    pub hub: Hub,
    /// Which operators are online, here and at the peer.
    pub presence: Arc<crate::presence::PresenceBoard>,
    /// Files sent with messages.
    pub files: crate::files::FileStore,
    /// The database file as opened, to notice it deleted or replaced under the deployment.
    pub database: crate::datadir::Opened,
    /// How the scheduled backups are going.
    pub backups: Arc<crate::backup::Status>,
    /// Wakes the mail sender when a mail was queued.
    pub mail: Arc<tokio::sync::Notify>,
    /// The configuration the deployment started with.
    pub config: Arc<Config>,
    /// What the replication link knows (peer, progress), for status reports.
    pub link: Arc<LinkState>,
    /// The newest decision of the moderator (which deployment is active).
    pub role: Role,
    /// Configuration mistakes noticed on the replication link.
    pub problems: Arc<crate::problems::Problems>,
    /// What this run of the deployment tells its peer about itself.
    pub introduction: Arc<protocol::replication::Introduction>,
    /// The login limits and the password checkers.
    pub login: Arc<LoginGuard>,
    /// The limits on new visitors and new conversations.
    pub visitors: Arc<VisitorLimits>,
    /// The open WebSockets, counted against their limits.
    pub connections: Arc<Connections>,
    /// How this deployment verifies its peer over `https://` (system roots and `tls_ca_file`).
    pub peer_tls: Arc<daemon::tls::rustls::ClientConfig>,
    /// The certificate it serves HTTPS with, when it terminates TLS itself.
    pub server_tls: Option<Arc<daemon::tls::rustls::ServerConfig>>,
    /// Turns true when the deployment is shutting down; open WebSockets close on it.
    pub shutdown: watch::Receiver<bool>,
    /// The sending half of `shutdown`, for [`crate::serve`].
    pub(crate) shutdown_sender: Arc<watch::Sender<bool>>,
}

/// Why a deployment could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The token secret could not be read or created.
    #[error("cannot read or create the token secret: {0}")]
    Secret(#[from] std::io::Error),
    /// The directory of sent files could not be created.
    #[error("cannot create the files directory: {0}")]
    Files(std::io::Error),
    /// A certificate, key or CA file is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] daemon::tls::TlsError),
}

impl AppState {
    /// Opens the database in the configured data directory and prepares everything else.
    pub fn open(config: Config) -> Result<AppState, StartError> {
        let store = config.open_store()?;
        let decision = store.read_blocking(|r| r.remembered_decision())?;
        let files = crate::files::FileStore::open(&config.data_dir).map_err(StartError::Files)?;
        let secret = config.resolve_secret()?;
        let (shutdown_sender, shutdown) = watch::channel(false);
        let peer_tls = daemon::tls::client_config(config.tls_ca_file.as_deref())?;
        let server_tls = match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) => Some(daemon::tls::server_config(cert, key)?),
            _ => None,
        };
        let login = LoginGuard::new(&config);
        let visitors = Arc::new(VisitorLimits::new(&config));
        let open_files = crate::throttle::connections::open_files_limit();
        let max_connections =
            crate::throttle::connections::within_open_files(config.max_connections, open_files);
        if max_connections < config.max_connections {
            tracing::warn!(
                configured = config.max_connections,
                open_files,
                max_connections,
                "the open-file limit leaves room for fewer WebSockets than max_connections; raise it (systemd: LimitNOFILE=) to hold more"
            );
        }
        let connections = Connections::new(config.max_connections_per_address, max_connections);
        let signer = TokenSigner::new(secret.as_bytes());
        let introduction = protocol::replication::Introduction {
            instance: format!("{:032x}", rand::random::<u128>()),
            token_check: signer.check_value(),
        };
        Ok(AppState(Arc::new(Shared {
            store,
            signer,
            hub: Hub::default(),
            presence: Arc::default(),
            files,
            database: crate::datadir::Opened::record(&config.data_dir),
            backups: Arc::default(),
            mail: Arc::default(),
            config: Arc::new(config),
            link: Arc::default(),
            role: Role::remembered(decision),
            problems: Arc::default(),
            introduction: Arc::new(introduction),
            login,
            visitors,
            connections,
            peer_tls,
            server_tls,
            shutdown,
            shutdown_sender: Arc::new(shutdown_sender),
        })))
    }

    /// The deployment's wall clock in Unix milliseconds (the store's, skewed in tests): token and
    /// session expiry read this, like the events do.
    pub fn now_ms(&self) -> i64 {
        self.store.now_ms()
    }
}
