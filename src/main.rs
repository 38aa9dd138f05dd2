//! The `ferry` binary: `ferry serve` runs the daemon; every other command is a thin client
//! of its HTTP API (plus the explicit `--offline` secret-store commands).

mod answer;
mod asset_store;
mod cli;
mod client;
mod commands;
mod memory;
mod progress;
mod render;
mod routes_source;
mod save;
mod serve;
mod server;
mod state_root;
mod upload;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::client::CliError;

fn main() {
    // Before any thread or connection exists (see its doc).
    ferry_store::skip_memory_statistics();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_a_closed_stdout();
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let json = cli.global.json;
    let result = runtime.block_on(dispatch(cli));
    match result {
        Ok(()) => {}
        Err(e) => {
            if json {
                if let Some(p) = &e.problem {
                    println!("{p}");
                }
            }
            eprintln!("error: {}", e.message);
            std::process::exit(e.exit);
        }
    }
}

/// A client command ends like other Unix tools when its reader goes away (`ferry runs
/// events RUN | head -1`): SIGPIPE ends it, silently. Rust ignores SIGPIPE before `main`,
/// so every print to a closed pipe would otherwise panic ("failed printing to stdout:
/// Broken pipe", exit 101), whichever of the many `println!`s it is. Only clients: `serve`
/// keeps SIGPIPE ignored, so a caller hanging up is an error on that one connection and
/// never ends the daemon. The client's own HTTP calls are unaffected either way: TCP
/// sockets are written with `MSG_NOSIGNAL`, so a daemon closing one is still an error.
fn end_quietly_on_a_closed_stdout() {
    // SAFETY: signal(2) with the default disposition installs no handler; it runs before
    // the runtime or any other thread exists, so nothing races the change.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The async runtime, sized to the CPUs this process may run on (its affinity mask and
/// cgroup quota, as `available_parallelism` reads them). On one CPU (a daemon pinned to a
/// core, a one-vCPU container) it is tokio's current-thread scheduler: the multi-thread
/// one would run a single worker there anyway, beside the thread that drives `main`'s
/// future, and pay for work-stealing bookkeeping and hand-offs between the two (fewer
/// instructions per request on one thread: docs/benchmarks.md). Nothing in ferry blocks
/// a runtime thread waiting on another task (no `block_in_place`, no nested `block_on`),
/// so both schedulers run the same code.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = match one_cpu {
        true => tokio::runtime::Builder::new_current_thread(),
        false => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let g = &cli.global;
    match &cli.command {
        Command::Serve(args) => serve::run(g, args).await,
        Command::Status => commands::status::run(g).await,
        Command::Secrets(cmd) => commands::secrets::run(g, cmd).await,
        Command::Runtime(cmd) => commands::runtime::run(g, cmd).await,
        Command::Sessions(cmd) => commands::sessions::run(g, cmd).await,
        Command::Runs(cmd) => commands::runs::run(g, cmd).await,
        Command::Assets(cmd) => commands::assets::run(g, cmd).await,
        Command::Audio(cmd) => commands::audio::run(g, cmd).await,
        Command::Image(cmd) => commands::image::run(g, cmd).await,
        Command::Video(cmd) => commands::video::run(g, cmd).await,
        Command::Models(cmd) => commands::models::run(g, cmd).await,
        Command::Keys(cmd) => commands::keys::run(g, cmd).await,
        Command::Spend(args) => commands::keys::spend(g, args).await,
        Command::Onboard(args) => commands::onboard::run(g, args).await,
        Command::Db(cmd) => commands::db::run(g, cmd).await,
        Command::Config(cmd) => commands::config::run(g, cmd).await,
        Command::Doctor(args) => commands::doctor::run(g, args).await,
        Command::Completions { shell } => {
            commands::completions::run(*shell);
            Ok(())
        }
    }
}
