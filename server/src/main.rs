//! The `server` binary: runs a deployment, and administers its database from the command line.

use anyhow::Context;
use clap::{Parser, Subcommand};
use protocol::{OperatorRole, SiteId};
use server::config::{Config, Overrides};
use server::store::{Site, Store};
use std::io::Read;

#[derive(Parser)]
#[command(name = "server", about = "A live chat deployment", version)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the deployment (the default).
    Serve,
    /// Manage operator accounts.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Manage sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Compare two deployments' data directories; exit code 0 only when they hold the same data
    /// in the same order.
    CheckSync {
        /// The first data directory.
        a: std::path::PathBuf,
        /// The second data directory.
        b: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator. The password is read from LIVECHAT_OPERATOR_PASSWORD or, when that is
    /// unset, from the first line of standard input, so it never appears in the process list.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "agent", value_parser = ["admin", "agent"])]
        role: String,
        /// Update the name, password and role if the e-mail address already has an account.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Create or update a site.
    Add {
        /// The id the snippet carries, for example `acme`.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// An origin allowed to embed the widget, such as `https://shop.example` (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Let pages of every origin, and clients that send no `Origin`, embed the chat, instead
        /// of listing origins.
        #[arg(long, conflicts_with = "origins")]
        allow_any_origin: bool,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = Config::load(&cli.overrides)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Operator(OperatorCommand::Add {
            email,
            name,
            role,
            replace,
        }) => {
            let password = read_password()?;
            anyhow::ensure!(
                password.len() >= 8,
                "the password must have at least 8 characters"
            );
            let role = OperatorRole::parse(&role).expect("clap restricts the values");
            let hash = server::auth::hash_password(&password);
            let store = config.open_store()?;
            let profile = block_on_write(&store, move |conn| {
                conn.add_operator(&email, &name, &hash, role, replace)
            })?;
            store.shutdown();
            println!(
                "operator {} <{}> ({}) is ready",
                profile.name,
                profile.email,
                profile.role.as_str()
            );
            Ok(())
        }
        Command::CheckSync { a, b } => {
            let differences = server::store::sync_check::compare(&a, &b)?;
            if differences.is_empty() {
                println!(
                    "in sync: {} and {} hold the same data",
                    a.display(),
                    b.display()
                );
                return Ok(());
            }
            for difference in &differences {
                println!("{difference}");
            }
            anyhow::bail!(
                "{} difference(s) between {} and {}",
                differences.len(),
                a.display(),
                b.display()
            )
        }
        Command::Site(SiteCommand::Add {
            id,
            name,
            origins,
            allow_any_origin,
        }) => {
            let allowed_origins = site_origins(origins, allow_any_origin)?;
            let store = config.open_store()?;
            let site = Site {
                id: SiteId(id),
                name,
                allowed_origins,
            };
            let shown = site.clone();
            block_on_write(&store, move |conn| conn.upsert_site(&site))?;
            store.shutdown();
            println!(
                "site {} ({}) allows {:?}",
                shown.id, shown.name, shown.allowed_origins
            );
            Ok(())
        }
    }
}

/// The origins a site is saved with: each one checked and normalised, and "any" only when asked
/// for in so many words, so that no site is open to every page by omission.
fn site_origins(origins: Vec<String>, allow_any: bool) -> anyhow::Result<Vec<String>> {
    if allow_any {
        return Ok(vec![server::store::ANY_ORIGIN.to_owned()]);
    }
    if origins.is_empty() {
        anyhow::bail!(
            "name the pages that may embed the chat with --origin https://shop.example (repeatable), \
             or pass --allow-any-origin to let every page embed it"
        );
    }
    origins
        .iter()
        .map(|o| server::store::normalise_origin(o).map_err(anyhow::Error::msg))
        .collect()
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("LIVECHAT_OPERATOR_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_to_string(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.lines().next().unwrap_or_default().to_owned())
}

fn block_on_write<R: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&server::store::Writer) -> Result<R, server::store::StoreError> + Send + 'static,
) -> anyhow::Result<R> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(store.write(f))?)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let data_dir = config.data_dir.clone();
        let state = server::AppState::open(config)?;
        // The line below is read by tests and tools to learn the bound port; keep its shape.
        println!("listening on http://{address}");
        tracing::info!(%address, data_dir = %data_dir.display(), "deployment started");
        server::serve(listener, state, daemon::shutdown_signal()).await?;
        tracing::info!("deployment stopped cleanly");
        Ok(())
    })
}
