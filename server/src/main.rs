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
    /// Take a consistent, verified backup of the data directory (safe while the deployment
    /// serves) into a new directory under `--to`, named by the deployment and the UTC time.
    Backup {
        /// Where the backup goes.
        #[arg(long)]
        to: std::path::PathBuf,
        /// A second destination the backup is copied to and verified in (the off-site copy).
        #[arg(long)]
        offsite: Option<std::path::PathBuf>,
    },
    /// Restore a backup into the data directory (`--data-dir`), after verifying it. Refused while
    /// a deployment serves from that directory, and over an existing database without
    /// `--replace`.
    Restore {
        /// The backup directory (`livechat-<deployment>-<time>`).
        #[arg(long)]
        from: std::path::PathBuf,
        /// Move an existing database aside (never deleted) and restore over it.
        #[arg(long)]
        replace: bool,
    },
}

/// How a listing or a record is printed.
#[derive(clap::Args, Clone, Copy)]
struct Output {
    /// Print JSON (the admin API's records) instead of text, for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// List the team: e-mail, name, role, state and the sites each serves.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Stop an operator from logging in; their open consoles are signed out.
    Disable {
        /// Their e-mail address.
        email: String,
    },
    /// Let a disabled operator log in again.
    Enable {
        /// Their e-mail address.
        email: String,
    },
    /// Remove an operator (what they wrote stays, under their name).
    Remove {
        /// Their e-mail address.
        email: String,
    },
    /// Make an operator an admin or an agent; their sessions end.
    SetRole {
        /// Their e-mail address.
        email: String,
        #[arg(value_parser = ["admin", "agent"])]
        role: String,
    },
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
    /// List the sites.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one site: origins, identity secret, look and forms, and its snippet.
    Show {
        /// The site id.
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Print the identity signature of a site's user: what the site's backend computes for the
    /// widget's `identify` (HMAC-SHA256 of the user id with the site's identity secret), for
    /// trying identity verification out before writing that code.
    SignUser {
        /// The site id.
        id: String,
        /// The site's own id for the user.
        user_id: String,
    },
    /// Remove a site: its widget says the chat is unavailable; transcripts stay.
    Remove {
        /// The site id.
        id: String,
    },
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
    let cli = Cli::parse();
    let config = Config::load(&cli.overrides)?;
    daemon::logging::init(
        config.log_format,
        &config.deployment,
        "info,tower_http=warn",
    );
    daemon::metrics::install(&[("deployment", &config.deployment)]);
    server::telemetry::describe();
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
        Command::Backup { to, offsite } => {
            let (path, manifest) = server::backup::take(&config.data_dir, &config.deployment, &to)?;
            println!(
                "backup {} verified: {} events, {} files ({} bytes), schema {}",
                path.display(),
                manifest.events,
                manifest.files,
                manifest.file_bytes,
                manifest.schema_version
            );
            if let Some(offsite) = offsite {
                std::fs::create_dir_all(&offsite)?;
                let copy = server::backup::copy_to(&path, &offsite)?;
                println!("copied to {} and verified", copy.display());
            }
            Ok(())
        }
        Command::Restore { from, replace } => {
            let manifest = server::backup::restore(&from, &config.data_dir, replace)?;
            println!(
                "restored {} into {} and verified: {} events, {} files, taken by {} at {}",
                from.display(),
                config.data_dir.display(),
                manifest.events,
                manifest.files,
                manifest.deployment,
                server::backup::stamp(manifest.taken_at_ms)
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
            let secret = server::auth::new_secret();
            // A new site gets its identity secret; an existing one keeps it.
            block_on_write(&store, move |w| match w.site(&site.id)? {
                Some(_) => w.edit_site(&site),
                None => w.create_site(&site, secret),
            })?;
            store.shutdown();
            println!(
                "site {} ({}) allows {:?}",
                shown.id, shown.name, shown.allowed_origins
            );
            Ok(())
        }
        Command::Site(command) => site_command(&config, command),
        Command::Operator(command) => operator_command(&config, command),
    }
}

/// `server site list|show|remove`.
fn site_command(config: &Config, command: SiteCommand) -> anyhow::Result<()> {
    let store = config.open_store()?;
    let result = match command {
        SiteCommand::Add { .. } => unreachable!("handled in main"),
        SiteCommand::List { output } => {
            let sites = block_on_write(&store, |w| w.admin_sites())?;
            print(output, &sites, |sites| {
                sites
                    .iter()
                    .map(|s| format!("{}\t{}\t{}", s.id, s.name, s.allowed_origins.join(" ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        SiteCommand::Show { id, output } => {
            let id = SiteId(id);
            let lookup = id.clone();
            let site = block_on_write(&store, move |w| w.admin_site(&lookup))?
                .with_context(|| format!("there is no site `{id}`"))?;
            let snippet = server::admin::render_snippet(
                &site.id,
                &config.public_urls,
                config.moderator_url.as_deref(),
            );
            print(output, &site, |site| {
                format!(
                    "site {} ({})\norigins: {}\nidentity secret: {}\nappearance: {}\nforms: {}\n\n{snippet}",
                    site.id,
                    site.name,
                    site.allowed_origins.join(" "),
                    site.identity_secret.as_deref().unwrap_or("(none yet; rotate one in the admin app)"),
                    serde_json::to_string(&site.appearance).expect("serialises"),
                    serde_json::to_string(&site.forms).expect("serialises"),
                )
            })
        }
        SiteCommand::SignUser { id, user_id } => {
            let id = SiteId(id);
            let lookup = id.clone();
            let secret = block_on_write(&store, move |w| w.admin_site(&lookup))?
                .with_context(|| format!("there is no site `{id}`"))?
                .identity_secret
                .with_context(|| format!("site `{id}` has no identity secret yet"))?;
            println!("{}", server::auth::sign_user(&secret, &user_id));
            Ok(())
        }
        SiteCommand::Remove { id } => {
            let id = SiteId(id);
            let shown = id.clone();
            block_on_write(&store, move |w| w.remove_site(&id))?;
            println!("site {shown} removed; its conversations stay");
            Ok(())
        }
    };
    store.shutdown();
    result
}

/// `server operator list|disable|enable|remove|set-role`.
fn operator_command(config: &Config, command: OperatorCommand) -> anyhow::Result<()> {
    use protocol::replication::OperatorSetting;
    let store = config.open_store()?;
    let by_email = |w: &server::store::Writer, email: &str| {
        w.operator_by_email(email)?
            .map(|found| found.operator.id)
            .ok_or(server::store::StoreError::NotFound("operator"))
    };
    let result = match command {
        OperatorCommand::Add { .. } => unreachable!("handled in main"),
        OperatorCommand::List { output } => {
            let team = block_on_write(&store, |w| w.admin_operators())?;
            print(output, &team, |team| {
                team.iter()
                    .map(|o| {
                        let sites = match &o.sites {
                            protocol::admin::SiteScope::All => "all sites".to_owned(),
                            protocol::admin::SiteScope::Only(s) => {
                                s.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(",")
                            }
                        };
                        format!(
                            "{}\t{}\t{}\t{}\t{sites}",
                            o.email,
                            o.name,
                            o.role.as_str(),
                            o.state.as_str()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        OperatorCommand::Disable { email } => {
            let shown = email.clone();
            block_on_write(&store, move |w| {
                let id = by_email(w, &email)?;
                w.set_operator_setting(id, OperatorSetting::Disabled(true))
            })?;
            println!("operator {shown} is disabled; their consoles are signed out");
            Ok(())
        }
        OperatorCommand::Enable { email } => {
            let shown = email.clone();
            block_on_write(&store, move |w| {
                let id = by_email(w, &email)?;
                w.set_operator_setting(id, OperatorSetting::Disabled(false))
            })?;
            println!("operator {shown} may log in again");
            Ok(())
        }
        OperatorCommand::Remove { email } => {
            let shown = email.clone();
            block_on_write(&store, move |w| {
                let id = by_email(w, &email)?;
                w.remove_operator(id)
            })?;
            println!("operator {shown} removed");
            Ok(())
        }
        OperatorCommand::SetRole { email, role } => {
            let role = OperatorRole::parse(&role).expect("clap restricts the values");
            let shown = email.clone();
            block_on_write(&store, move |w| {
                let id = by_email(w, &email)?;
                w.edit_operator(id, None, Some(role), None)
            })?;
            println!("operator {shown} is now {}", role.as_str());
            Ok(())
        }
    };
    store.shutdown();
    result
}

/// Prints `value` as JSON with `--json`, else as `text` renders it.
fn print<T: serde::Serialize>(
    output: Output,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if output.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
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
        // Held until the process exits: a second deployment on this directory, or a restore
        // over it, is refused meanwhile.
        let _lock = server::datadir::lock_for_serving(&data_dir)?;
        let state = server::AppState::open(config)?;
        // The line below is read by tests and tools to learn the bound port; keep its shape.
        println!("listening on http://{address}");
        tracing::info!(%address, data_dir = %data_dir.display(), "deployment started");
        server::serve(listener, state, daemon::shutdown_signal()).await?;
        tracing::info!("deployment stopped cleanly");
        Ok(())
    })
}
