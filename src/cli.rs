//! The command line.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  logtap check  --config logtap.toml        # every prerequisite, each failure with its fix
  logtap run    --config logtap.toml        # stream until SIGTERM/SIGINT (a second one exits at once)
  logtap status --config logtap.toml        # stored position, slot/binlog state, snapshot progress
  logtap snapshot --config logtap.toml public.orders --where \"status = 'open'\"
  LOGTAP__KAFKA__BOOTSTRAP_SERVERS=broker:9092 logtap run   # any setting from the environment

Exit status:
  0  stopped as asked (or the source finished)
  1  stopped for an operator: the message and its `fix:` line say what to change
  3  the stored position can no longer be read (slot dropped, binlog purged, offsets of
     another source): `logtap reset` starts over
  130  a second SIGINT/SIGTERM during the drain (the stored position stays safe)

Environment: LOGTAP__SECTION__KEY overrides section.key of the file; RUST_LOG overrides
log.level; secrets come from the variables and files named by *_env / *_file settings.";

/// Native change-data-capture: database changes to Kafka as Debezium-compatible records.
#[derive(Debug, Parser)]
#[command(name = "logtap", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream changes to the sink until SIGTERM/SIGINT (drains and stores the position on exit).
    Run {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
        /// Overrides `[snapshot] mode`: initial, no_data, initial_only, when_needed or always.
        #[arg(long, value_name = "MODE")]
        snapshot_mode: Option<logtap_core::SnapshotMode>,
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
    /// Snapshot tables now, while streaming (Debezium's execute-snapshot signal, written into the source's log).
    Snapshot {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
        /// Tables to read, as schema.table.
        tables: Vec<String>,
        /// Read only the rows meeting this SQL condition (Debezium's
        /// additional-conditions), e.g. --where "status = 'open'".
        #[arg(long = "where", value_name = "CONDITION", conflicts_with = "stop")]
        filter: Option<String>,
        /// End the running snapshot instead (stop-snapshot).
        #[arg(long, conflicts_with = "tables")]
        stop: bool,
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
    /// Exit 0 if the running logtap's /healthz (its [metrics] listen) answers 200: for container health checks.
    Healthcheck {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
    },
    /// Work with configurations: `from-debezium FILE` prints the logtap
    /// TOML equivalent of a Debezium connector's configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Copy stored positions between offset stores (e.g. from sled to Kafka).
    Offsets {
        #[command(subcommand)]
        action: OffsetsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the logtap TOML equivalent of a Debezium connector
    /// configuration: Kafka Connect's connector JSON, a connector
    /// `.properties`, or Debezium Server's `application.properties`. Every
    /// property not carried is listed at the end with the reason.
    FromDebezium {
        /// The Debezium configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum OffsetsAction {
    /// Print every stored position of the config's store as JSON lines
    /// (`{"source": ..., "offset": {...}}`) on standard output; with
    /// --to-debezium, this config's position as a Debezium connector's
    /// offset (the way back from logtap to Debezium).
    Export {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
        /// Print Kafka Connect's offsets-topic record (`{"key": ...,
        /// "value": ...}`) for Debezium connector --connector, and with
        /// --file also write Debezium Server's / the embedded engine's
        /// offset file.
        #[arg(long, requires = "connector")]
        to_debezium: bool,
        /// The Debezium connector's `name`.
        #[arg(long, value_name = "NAME")]
        connector: Option<String>,
        /// Write `offset.storage.file.filename` (replaced if present).
        #[arg(long, value_name = "FILE", requires = "to_debezium")]
        file: Option<PathBuf>,
    },
    /// Store the positions of JSON lines (as `export` prints them) from
    /// standard input into the config's store; with --from-debezium, the
    /// position a Debezium connector stored, so logtap goes on after
    /// Debezium's last committed change. Stop logtap (and Debezium) first.
    Import {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
        /// Read Debezium's stored offset (same topic.prefix as this
        /// config's topic_prefix) from Kafka Connect's offsets topic on
        /// [kafka] brokers, or from --file.
        #[arg(long)]
        from_debezium: bool,
        /// Kafka Connect's offsets topic (`offset.storage.topic`).
        #[arg(
            long,
            value_name = "TOPIC",
            default_value = "connect-offsets",
            requires = "from_debezium"
        )]
        topic: String,
        /// Debezium Server's or the embedded engine's offset file
        /// (`offset.storage.file.filename`) instead of the topic.
        #[arg(long, value_name = "FILE", requires = "from_debezium")]
        file: Option<PathBuf>,
        /// The connector's `name`, when several stored offsets have this
        /// topic prefix.
        #[arg(long, value_name = "NAME", requires = "from_debezium")]
        connector: Option<String>,
    },
    /// Print this config's stored position (and the server's, as `status`).
    Show {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
    },
    /// Store a position given by hand, after checking the server can send
    /// the changes from there (the slot holds it; the binlog still has it).
    /// `run` then starts there: PostgreSQL with the transactions committing
    /// after --lsn, MySQL/MariaDB at --gtid-set or --file/--pos. Replaces
    /// the stored position (printed first). Stop logtap first.
    Set {
        /// Path to logtap.toml.
        #[arg(short, long, default_value = "logtap.toml")]
        config: PathBuf,
        /// PostgreSQL: an LSN such as 0/1A2B3C4.
        #[arg(long, value_name = "LSN", conflicts_with_all = ["gtid_set", "file"])]
        lsn: Option<String>,
        /// MySQL: a GTID set (uuid:1-42); MariaDB: a GTID position (0-1-42).
        #[arg(long, value_name = "GTIDS", conflicts_with = "file")]
        gtid_set: Option<String>,
        /// MySQL/MariaDB: a binlog file the server keeps ...
        #[arg(long, value_name = "FILE", requires = "pos")]
        file: Option<String>,
        /// ... and the position of an event in it.
        #[arg(long, value_name = "POS", requires = "file")]
        pos: Option<u64>,
    },
}
