//! `fake-openrouter`: runs the fake OpenRouter on a loopback port and serves the default
//! echo replies until killed — for manual demos and benchmarks.

use std::process::ExitCode;

use clap::Parser;
use ferry_fake_openrouter::FakeOpenRouter;

/// Serve a fake OpenRouter API on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "fake-openrouter")]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Remember requests and generations, so `GET /api/v1/generation?id=` can answer.
    /// Off by default: nothing here reads the requests back, and memory stays flat under load.
    #[arg(long)]
    record: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let fake = match FakeOpenRouter::try_start_on(args.port) {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("fake-openrouter: {e}");
            return ExitCode::FAILURE;
        }
    };
    fake.set_recording(args.record);
    println!("listening on {}", fake.base_url());
    loop {
        std::thread::park();
    }
}
