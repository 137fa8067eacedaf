//! `livechat-client`: chat as a visitor from the terminal, through the same client core as the
//! widget. Each line read from standard input is a message; messages from the operator and the
//! connection's changes are printed. At the end of input it waits (at most a minute) until every
//! message is on both deployments.
//!
//! ```sh
//! livechat-client --site demo --deployment http://127.0.0.1:8080 \
//!     --deployment http://127.0.0.1:8081 --moderator http://127.0.0.1:8082
//! ```

use clap::Parser;
use client_core::{Event, LinkStatus};
use native_client::{Client, ClientOptions};
use protocol::{AuthorKind, ServerFrame};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(
    name = "livechat-client",
    about = "Chat as a visitor from the terminal",
    version
)]
struct Cli {
    /// The site id.
    #[arg(long)]
    site: String,
    /// A deployment's base URL; give the primary first, then the redundant one.
    #[arg(long = "deployment", required = true)]
    deployments: Vec<String>,
    /// The moderator's base URL.
    #[arg(long)]
    moderator: Option<String>,
    /// Keeps the visitor's token and unsent messages across runs.
    #[arg(long)]
    state_file: Option<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let mut options = ClientOptions::visitor(&cli.site, cli.deployments.clone(), cli.moderator);
    options.state_file = cli.state_file;
    let mut client = Client::start(options);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    // After the end of input, events are still shown while the outbox drains, for at most a
    // minute.
    let give_up = tokio::time::sleep(Duration::from_secs(60 * 60 * 24 * 365));
    tokio::pin!(give_up);
    loop {
        if !input_open && client.outbox_len() == 0 {
            return;
        }
        tokio::select! {
            line = lines.next_line(), if input_open => match line {
                Ok(Some(line)) if !line.trim().is_empty() => {
                    client.write(line.trim());
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    input_open = false;
                    give_up.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(60));
                }
            },
            event = client.next_event() => match event {
                Some(event) => show(&cli.deployments, event),
                None => return,
            },
            () = &mut give_up => {
                eprintln!(
                    "{} message(s) are not yet on both deployments; with --state-file they are \
                     sent on the next run",
                    client.outbox_len()
                );
                std::process::exit(1);
            }
        }
    }
}

fn show(deployments: &[String], event: Event) {
    match event {
        Event::Status(LinkStatus::Online { deployment }) => {
            eprintln!("[connected to {}]", deployments[deployment])
        }
        Event::Status(LinkStatus::Offline) => eprintln!("[offline, retrying]"),
        Event::Frame(ServerFrame::Message { message })
            if message.author.kind != AuthorKind::Visitor =>
        {
            let name = message.author.name.unwrap_or_else(|| "Operator".into());
            println!("{name}: {}", message.body);
        }
        Event::Frame(ServerFrame::Error { message, .. }) => eprintln!("[refused: {message}]"),
        _ => {}
    }
}
