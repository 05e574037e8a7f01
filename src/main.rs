//! The `logtap` binary: command line, configuration, wiring, signals, logs.
//!
//! Owns: turning a config file into a running pipeline and answering the
//! operator's questions (`check`, `status`, `reset`). Does not own: protocol
//! details (the source crates) or Kafka details (`logtap-kafka`).

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

mod config;
mod demo;
mod pipeline;
mod stdout_sink;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use config::{Config, LogFormat, SinkKind};
use logtap_core::Source;
use logtap_core::{
    Encoder, EnvelopeOptions, Limits, OffsetStore, PipelineError, Policy, SharedTracker,
};
use logtap_kafka::{KafkaSink, Router};
use logtap_offsets::SledOffsetStore;
use logtap_postgres::PostgresSource;
use pipeline::{PipelineParts, Stopped};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// Native change-data-capture: database changes to Kafka as Debezium-compatible records.
#[derive(Debug, Parser)]
#[command(name = "logtap", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream changes to the sink until SIGTERM/SIGINT (drains and stores the position on exit).
    Run {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
    },
    /// Validate the configuration and check that Kafka is reachable.
    Check {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
    },
    /// Show the stored positions.
    Status {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
    },
    /// Forget the stored position of this config's source, so the next run starts over.
    Reset {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
        /// Do it without asking (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

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
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A classified error says what to do, and a position that is
            // gone exits differently so a supervisor can tell it apart.
            match e.downcast_ref::<PipelineError>() {
                Some(p) => {
                    eprintln!("  fix: {}", p.kind.fix());
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
        Command::Run { config } => {
            let cfg = Config::load(&config)?;
            init_logging(&cfg);
            run(cfg).await
        }
        Command::Check { config } => check(&config).await,
        Command::Status { config } => {
            let cfg = Config::load(&config)?;
            status(&cfg)?;
            if let Some(pg) = &cfg.postgres {
                pg_slot_status(pg).await?;
            }
            if let Some(my) = &cfg.mysql {
                mysql_binlog_status(my).await;
            }
            Ok(())
        }
        Command::Reset { config, yes } => {
            let cfg = Config::load(&config)?;
            reset(&cfg, yes)
        }
    }
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn open_offsets(cfg: &Config, wait_for_lock: bool) -> Result<SledOffsetStore> {
    if let Some(parent) = cfg.offsets.path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("offsets.path: cannot create directory {}", parent.display())
            })?;
        }
    }
    // A `logtap status` (or `reset`) holds sled's lock for a moment; wait
    // that out rather than fail. A lock held for seconds is another `run`.
    let mut tries = 0;
    loop {
        match SledOffsetStore::open(&cfg.offsets.path) {
            Ok(store) => return Ok(store),
            Err(e) if wait_for_lock && e.locked && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Watches SIGTERM and SIGINT; the receiver turns `true` on the first one.
fn shutdown_signal() -> Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining in-flight records"),
            _ = int.recv() => tracing::info!("SIGINT: draining in-flight records"),
        }
        let _ = tx.send(true);
        // A second signal means "now": the drain is taking too long.
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("second signal: exiting without waiting for the drain (the stored position is safe; the unacknowledged window will be replayed)");
        std::process::exit(130);
    });
    Ok(rx)
}

async fn run(cfg: Config) -> Result<()> {
    let offsets = open_offsets(&cfg, true)?;
    let shutdown = shutdown_signal()?;
    const FIRST_BACKOFF: Duration = Duration::from_millis(500);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = std::time::Instant::now();
        let outcome = run_once(&cfg, &offsets, shutdown.clone()).await;
        // A run that went well for a while earns a quick retry again.
        if started.elapsed() > Duration::from_secs(60) {
            backoff = FIRST_BACKOFF;
        }
        match outcome {
            Ok(Stopped::Shutdown) => {
                tracing::info!("stopped; final position stored");
                return Ok(());
            }
            Ok(Stopped::SourceFinished) => {
                tracing::info!("source finished; final position stored");
                return Ok(());
            }
            Err(e) if e.policy() == Policy::Retry && !*shutdown.borrow() => {
                tracing::warn!(error = %e, retry_in = ?backoff, "retrying from the stored position");
                let mut stop = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => {
                        tracing::info!("stopped while waiting to retry; the stored position is unchanged");
                        return Ok(());
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(anyhow::Error::new(e)),
        }
    }
}

/// One attempt: a fresh tracker, source and sink from the stored position.
async fn run_once(
    cfg: &Config,
    offsets: &SledOffsetStore,
    shutdown: watch::Receiver<bool>,
) -> Result<Stopped, PipelineError> {
    let stored = offsets.load(&cfg.topic_prefix)?;
    let stored_id = stored.as_ref().and_then(|s| s.source_id.clone());
    // The tracker starts from the stored checkpoint (position and snapshot
    // progress); the source from its position.
    let stored_checkpoint =
        stored.map(|s| logtap_core::Checkpoint { position: s.position, snapshot: s.snapshot });
    let position = stored_checkpoint.as_ref().map(|c| c.position.clone());
    match &position {
        Some(p) => tracing::info!(source = %cfg.topic_prefix, position = %p, "resuming"),
        None => {
            tracing::info!(source = %cfg.topic_prefix, "no stored position: starting from the beginning")
        }
    }
    let tracker = SharedTracker::new(
        Limits {
            max_records: cfg.sink.max_in_flight_records,
            max_bytes: cfg.sink.max_in_flight_bytes,
        },
        stored_checkpoint,
    );
    let parts = PipelineParts {
        name: &cfg.topic_prefix,
        encoder: Encoder::new(EnvelopeOptions {
            schemas_enable: cfg.record.schemas_enable,
            tombstones_on_delete: cfg.record.tombstones_on_delete,
        }),
        router: Router::new(&cfg.topic_prefix, cfg.record.routing, cfg.record.single_topic.clone()),
        tracker: tracker.clone(),
        offsets,
        commit_interval: Duration::from_millis(cfg.sink.commit_interval_ms),
        drain_timeout: Duration::from_secs(cfg.sink.drain_timeout_s),
        shutdown,
    };
    if let Some(pg) = &cfg.postgres {
        let mut source = PostgresSource::start(
            pg.clone(),
            &cfg.topic_prefix,
            position.as_ref(),
            stored_id.as_deref(),
        )
        .await?;
        with_sink(cfg, &mut source, tracker, parts).await
    } else if let Some(my) = &cfg.mysql {
        let mut source = logtap_mysql::MysqlSource::start(
            my.clone(),
            &cfg.topic_prefix,
            position.as_ref(),
            stored_id.as_deref(),
        )
        .await?;
        with_sink(cfg, &mut source, tracker, parts).await
    } else {
        let demo_cfg =
            cfg.demo.clone().ok_or_else(|| PipelineError::config("no source configured"))?;
        let mut source = demo::DemoSource::new(demo_cfg, &cfg.topic_prefix, position.as_ref())?;
        with_sink(cfg, &mut source, tracker, parts).await
    }
}

/// Runs the pipeline from `source` into the configured sink.
async fn with_sink<S: Source>(
    cfg: &Config,
    source: &mut S,
    tracker: SharedTracker,
    parts: PipelineParts<'_>,
) -> Result<Stopped, PipelineError> {
    match cfg.sink.kind {
        SinkKind::Stdout => {
            let mut sink = stdout_sink::StdoutSink::new(tracker);
            pipeline::run(source, &mut sink, parts).await
        }
        SinkKind::Kafka => {
            let kcfg =
                cfg.kafka.as_ref().ok_or_else(|| PipelineError::config("no [kafka] section"))?;
            let mut sink = KafkaSink::new(kcfg, tracker)?;
            pipeline::run(source, &mut sink, parts).await
        }
    }
}

async fn check(path: &Path) -> Result<()> {
    let cfg = Config::load(path)?;
    say!("config {}: ok", path.display());
    say!("  topic_prefix: {}", cfg.topic_prefix);
    say!("  offsets: {}", cfg.offsets.path.display());
    let mut failed = false;
    let findings = if let Some(pg) = &cfg.postgres {
        say!("source: PostgreSQL {}:{} database {}", pg.host, pg.port, pg.database);
        Some(logtap_postgres::check::run(pg).await?)
    } else if let Some(my) = &cfg.mysql {
        say!(
            "source: MySQL/MariaDB {}:{} as {} (server_id {})",
            my.host,
            my.port,
            my.user,
            my.effective_server_id(&cfg.topic_prefix)
        );
        Some(logtap_mysql::check::run(my, &cfg.topic_prefix).await?)
    } else {
        None
    };
    if let Some(findings) = findings {
        use logtap_core::check::Level;
        for f in findings {
            let tag = match f.level {
                Level::Ok => "ok  ",
                Level::Warn => "WARN",
                Level::Fail => "FAIL",
            };
            failed |= f.level == Level::Fail;
            say!("  {tag} {}", f.what);
            if let Some(fix) = f.fix {
                say!("       fix: {fix}");
            }
        }
    } else {
        say!("source: demo (inventory.customers)");
    }
    match (&cfg.sink.kind, &cfg.kafka) {
        (SinkKind::Kafka, Some(k)) => {
            say!("  sink: kafka at {}", k.bootstrap_servers);
            let topics = logtap_kafka::TopicManager::new(k)?;
            match topics.cluster_summary().await {
                Ok((brokers, n)) => say!(
                    "kafka: reachable; {brokers} broker(s), {n} topic(s); missing topics {}",
                    if k.topics.create {
                        "are created on first use"
                    } else {
                        "must be created beforehand (kafka.topics.create = false)"
                    }
                ),
                Err(e) => {
                    bail!("kafka: {e}: check kafka.bootstrap_servers and that the broker is up")
                }
            }
        }
        _ => say!("  sink: stdout"),
    }
    if failed {
        bail!("the source is not ready: apply the fixes above");
    }
    Ok(())
}

fn status(cfg: &Config) -> Result<()> {
    // sled admits one process: while `logtap run` holds the store, read the
    // JSON mirror it keeps beside it.
    let all = match open_offsets(cfg, false) {
        Ok(offsets) => offsets.list()?,
        Err(e) if e.downcast_ref::<logtap_core::OffsetError>().is_some_and(|o| o.locked) => {
            say!(
                "(logtap is running on {}; positions from its mirror file)",
                cfg.offsets.path.display()
            );
            logtap_offsets::read_mirror(&cfg.offsets.path)?
        }
        Err(e) => return Err(e),
    };
    if all.is_empty() {
        say!("no stored positions in {}", cfg.offsets.path.display());
    }
    for (name, off) in all {
        let marker = if name == cfg.topic_prefix { " (this config)" } else { "" };
        say!("{name}{marker}: {} (stored at {} ms since epoch)", off.position, off.updated_at_ms);
        if let Some(s) = off.snapshot {
            say!("  snapshot pending: {:?}, last key {:?}", s.pending_tables, s.last_key);
        }
    }
    Ok(())
}

/// The slot's state as the server sees it: how much WAL logtap pins.
async fn pg_slot_status(pg: &logtap_postgres::PostgresConfig) -> Result<()> {
    let client = match logtap_postgres::catalog::connect(pg).await {
        Ok(c) => c,
        Err(e) => {
            say!("slot {}: cannot reach PostgreSQL: {e}", pg.slot_name);
            return Ok(());
        }
    };
    match logtap_postgres::catalog::slot_info(&client, &pg.slot_name).await? {
        None => say!("slot {}: does not exist", pg.slot_name),
        Some(s) => {
            let lag = logtap_postgres::catalog::slot_lag_bytes(&client, &pg.slot_name).await?;
            say!(
                "slot {}: {}, confirmed {}, lag {} bytes, wal_status {}",
                pg.slot_name,
                s.active_pid.map_or("inactive".to_string(), |p| format!("active (server pid {p})")),
                s.confirmed_flush_lsn.map_or("-".to_string(), |l| l.to_string()),
                lag.unwrap_or(0),
                s.wal_status.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}

/// The server's binlog end and the files it still has: how far behind the
/// stored position is, and whether it is still readable.
async fn mysql_binlog_status(my: &logtap_mysql::MysqlConfig) {
    use logtap_mysql::conn;
    let mut c = match conn::connect(my).await {
        Ok(c) => c,
        Err(e) => {
            say!("binlog: cannot reach MySQL/MariaDB: {e}");
            return;
        }
    };
    match conn::binlog_end(my, &mut c).await {
        Ok(Some((file, pos))) => say!("binlog: server at {file}:{pos}"),
        Ok(None) => say!("binlog: binary logging is off on the server"),
        Err(e) => say!("binlog: {e}"),
    }
    if let Ok(info) = conn::server_info(my, &mut c).await {
        let var = match info.flavor {
            conn::Flavor::Mariadb => "SELECT @@GLOBAL.gtid_binlog_pos",
            conn::Flavor::Mysql => "SELECT @@GLOBAL.gtid_executed",
        };
        if let Ok(Some(g)) = conn::query_text(&mut c, var).await {
            say!("binlog: server GTID position {}", g.replace('\n', ""));
        }
    }
    match conn::binlog_files(my, &mut c).await {
        Ok(files) => say!(
            "binlog: server keeps {} file(s){}",
            files.len(),
            files.first().map(|f| format!(", oldest {f}")).unwrap_or_default()
        ),
        Err(e) => say!("binlog: {e}"),
    }
    let _ = c.disconnect().await;
}

fn reset(cfg: &Config, yes: bool) -> Result<()> {
    let offsets = open_offsets(cfg, false)?;
    let Some(current) = offsets.load(&cfg.topic_prefix)? else {
        say!("nothing stored for `{}`", cfg.topic_prefix);
        return Ok(());
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to reset without --yes when standard input is not a terminal");
        }
        eprint!(
            "forget position {} of `{}`? the next run starts over. type yes: ",
            current.position, cfg.topic_prefix
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            bail!("not reset");
        }
    }
    offsets.remove(&cfg.topic_prefix)?;
    say!("forgot the position of `{}` ({})", cfg.topic_prefix, current.position);
    Ok(())
}
