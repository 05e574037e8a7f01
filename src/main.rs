//! The `logtap` binary: command line, configuration, wiring, signals, logs.
//!
//! Owns: turning a config file into a running pipeline and answering the
//! operator's questions (`check`, `status`, `reset`). Does not own: protocol
//! details (the source crates, which answer `check` and `status` for their
//! server) or Kafka details (`logtap-kafka`).
//!
//! Modules: `cli` (the command line), `run` (the retry loop around one
//! pipeline attempt), one module per other command (`check`, `status`,
//! `reset`), `config`, `pipeline`, and the demo source and stdout sink.

/// mimalloc instead of glibc's malloc: a change becomes many small,
/// short-lived allocations (row values, source block, JSON bytes), and
/// glibc's allocator was a quarter of the CPU profile while streaming.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` for what the commands print. When stdout is a pipe whose
/// reader has gone (`logtap status | head -1`), the process ends quietly
/// instead of panicking with "failed printing to stdout: Broken pipe".
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

mod check;
mod cli;
mod commit;
mod config;
mod demo;
mod from_debezium;
mod healthcheck;
mod offsets_cmd;
mod pipeline;
mod progress;
mod reset;
mod run;
mod snapshot;
mod status;
mod stdout_sink;
mod store;
mod telemetry;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command};
use config::Config;
use logtap_core::{PipelineError, Policy};

/// The exit status when the stored position cannot be read any more (slot
/// dropped, binlog purged, offsets of another source): restarting cannot
/// help, `logtap reset` can.
const EXIT_NEEDS_RESET: u8 = 3;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(dispatch(cli));
    // Everything that matters is done (the final position is stored before
    // `run` returns); a metadata request still waiting on an unreachable
    // Kafka in a blocking thread must not hold the exit for its timeout
    // (it held it 22-24 s, deaf to a second Ctrl-C).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A classified error says what to do, and a position that is
            // gone exits differently so a supervisor can tell it apart.
            match e.downcast_ref::<PipelineError>() {
                Some(p) => {
                    eprintln!("  fix: {}", p.fix());
                    std::process::ExitCode::from(match p.policy() {
                        Policy::Reset => EXIT_NEEDS_RESET,
                        _ => 1,
                    })
                }
                None => std::process::ExitCode::FAILURE,
            }
        }
    }
}

async fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run { config, snapshot_mode } => {
            let mut cfg = Config::load(&config)?;
            if let Some(mode) = snapshot_mode {
                cfg.snapshot.mode = Some(mode);
            }
            run::init_logging(&cfg);
            run::run(cfg).await
        }
        Command::Check { config } => check::check(&config).await,
        Command::Status { config } => status::status(&Config::load(&config)?).await,
        Command::Reset { config, yes } => reset::reset(&Config::load(&config)?, yes).await,
        Command::Config { action: cli::ConfigAction::FromDebezium { file } } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let t = from_debezium::translate(&from_debezium::parse(&text)?)
                .with_context(|| format!("{}", file.display()))?;
            print!("{}", t.toml);
            if !t.not_carried.is_empty() {
                println!("\n# Not carried ({}):", t.not_carried.len());
                for (k, why) in &t.not_carried {
                    println!("#   {k}: {why}");
                }
            }
            Ok(())
        }
        Command::Healthcheck { config } => healthcheck::healthcheck(&Config::load(&config)?),
        Command::Offsets {
            action: cli::OffsetsAction::Export { config, to_debezium, connector, file },
        } => {
            let cfg = Config::load(&config)?;
            match connector.filter(|_| to_debezium) {
                Some(name) => offsets_cmd::export_to_debezium(&cfg, &name, file.as_deref()).await,
                None => offsets_cmd::export(&cfg).await,
            }
        }
        Command::Offsets {
            action: cli::OffsetsAction::Import { config, from_debezium, topic, file, connector },
        } => {
            let cfg = Config::load(&config)?;
            if !from_debezium {
                return offsets_cmd::import(&cfg).await;
            }
            let from = match file {
                Some(path) => offsets_cmd::DebeziumStore::File(path),
                None => offsets_cmd::DebeziumStore::Topic(topic),
            };
            offsets_cmd::import_from_debezium(&cfg, &from, connector.as_deref()).await
        }
        Command::Offsets { action: cli::OffsetsAction::Show { config } } => {
            offsets_cmd::show(&Config::load(&config)?).await
        }
        Command::Offsets {
            action: cli::OffsetsAction::Set { config, lsn, gtid_set, file, pos },
        } => {
            let cfg = Config::load(&config)?;
            let at = offsets_cmd::GivenPosition { lsn, gtid_set, file: file.zip(pos) };
            offsets_cmd::set(&cfg, at).await
        }
        Command::Snapshot { config, tables, filter, stop } => {
            snapshot::snapshot(&Config::load(&config)?, &tables, filter.as_deref(), stop).await
        }
    }
}
