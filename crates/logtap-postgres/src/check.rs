//! `logtap check` for PostgreSQL: every prerequisite of logical decoding,
//! each failure with the SQL or setting that fixes it.

use crate::catalog;
use crate::config::PostgresConfig;
use logtap_core::check::{fail, ok, warn};
use logtap_core::PipelineError;
use tokio_postgres::Client;

pub use logtap_core::check::{Finding, Level};

async fn setting(client: &Client, name: &str) -> Result<String, PipelineError> {
    let row = client
        .query_one("SELECT current_setting($1)", &[&name])
        .await
        .map_err(|e| catalog::sql_err(&format!("reading setting {name}"), e))?;
    Ok(row.get(0))
}

/// What decoding from a standby needs: PostgreSQL 16+, feedback to the
/// primary (else the primary removes rows the slot still needs and the
/// slot is invalidated), and a physical slot on the primary behind it.
async fn standby_findings(
    client: &Client,
    num: i64,
    version: &str,
) -> Result<Vec<Finding>, PipelineError> {
    let mut out = vec![if num >= 160000 {
        ok("the server is a standby (PostgreSQL 16+ decodes logically on a standby); the primary needs wal_level = logical too")
    } else {
        fail(
            format!("the server is a standby and PostgreSQL {version}: logical decoding on a standby needs 16 or later"),
            "point postgres.host at the primary, or upgrade",
        )
    }];
    out.push(if setting(client, "hot_standby_feedback").await? == "on" {
        ok("hot_standby_feedback = on")
    } else {
        fail(
            "hot_standby_feedback = off: the primary may remove rows the slot still needs, which invalidates the slot",
            "on the standby: ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf();",
        )
    });
    if setting(client, "primary_slot_name").await?.is_empty() {
        out.push(warn(
            "the standby streams without a physical slot (primary_slot_name is empty): its feedback is lost while it is disconnected",
            "on the primary: SELECT pg_create_physical_replication_slot('<name>'); on the standby: ALTER SYSTEM SET primary_slot_name = '<name>'; SELECT pg_reload_conf();",
        ));
    }
    Ok(out)
}

async fn count(client: &Client, sql: &str) -> Result<i64, PipelineError> {
    let row = client.query_one(sql, &[]).await.map_err(|e| catalog::sql_err(sql, e))?;
    Ok(row.get(0))
}

/// Whether logtap's role may create the missing publication: CREATE on
/// the database, and superuser for `FOR ALL TABLES`.
async fn publication_creatable(
    client: &Client,
    cfg: &PostgresConfig,
) -> Result<Finding, PipelineError> {
    let sql = "SELECT has_database_privilege(current_database(), 'CREATE'), \
               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_user::text";
    let row = client.query_one(sql, &[]).await.map_err(|e| catalog::sql_err(sql, e))?;
    let (create, superuser, user): (bool, bool, String) = (row.get(0), row.get(1), row.get(2));
    let name = &cfg.publication_name;
    let all_tables = cfg.publication_autocreate_mode == crate::config::PublicationMode::AllTables;
    Ok(if all_tables && !superuser {
        fail(
            format!("publication `{name}` does not exist, and FOR ALL TABLES needs a superuser; `{user}` is not one"),
            format!("as a superuser: CREATE PUBLICATION \"{name}\" FOR ALL TABLES; or set publication_autocreate_mode = \"filtered\""),
        )
    } else if !create && !superuser {
        fail(
            format!("publication `{name}` does not exist, and `{user}` may not create it (no CREATE on the database)"),
            format!(
                "GRANT CREATE ON DATABASE \"{}\" TO \"{user}\"; or create it yourself (CREATE PUBLICATION \"{name}\" FOR TABLE <tables>;) and set publication_autocreate_mode = \"disabled\"",
                cfg.database
            ),
        )
    } else {
        ok(format!("publication `{name}` will be created by logtap run"))
    })
}

async fn wal_level_finding(client: &Client) -> Result<Finding, PipelineError> {
    let wal_level = setting(client, "wal_level").await?;
    Ok(if wal_level == "logical" {
        ok("wal_level = logical")
    } else {
        fail(
            format!("wal_level = {wal_level}, logical decoding needs logical"),
            "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
        )
    })
}

async fn role_finding(client: &Client, cfg: &PostgresConfig) -> Result<Finding, PipelineError> {
    let row = client
        .query_one(
            "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| catalog::sql_err("reading role attributes", e))?;
    let (repl, sup): (bool, bool) = (row.get(0), row.get(1));
    Ok(if repl || sup {
        ok(format!("role {} has REPLICATION", cfg.user))
    } else {
        fail(
            format!("role {} lacks the REPLICATION attribute", cfg.user),
            format!("ALTER ROLE \"{}\" REPLICATION;", cfg.user),
        )
    })
}

/// Of `tables` (`schema.table`), those logtap's role does not own:
/// PostgreSQL lets only a table's owner (or a superuser) add it to a
/// publication, so `filtered` cannot create or extend one with them.
async fn not_owned(client: &Client, tables: &[String]) -> Result<Vec<String>, PipelineError> {
    let sql = "SELECT n.nspname::text || '.' || c.relname::text FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname::text || '.' || c.relname::text = ANY($1) \
               AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY 1";
    let rows = client.query(sql, &[&tables]).await.map_err(|e| catalog::sql_err(sql, e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The failure for tables logtap would add to the publication but may not.
fn ownership_finding(
    cfg: &PostgresConfig,
    not_owned: &[String],
    all: &[String],
) -> Option<Finding> {
    let first = not_owned.first()?;
    let name = &cfg.publication_name;
    let more = match not_owned.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    let list = all.iter().map(|t| catalog::qualified(t)).collect::<Vec<_>>().join(", ");
    Some(fail(
        format!(
            "publication `{name}` needs {first}{more}, and only a table's owner may add it to a publication; `{}` does not own {}",
            cfg.user,
            if more.is_empty() { "it" } else { "them" }
        ),
        format!(
            "as the tables' owner or a superuser: CREATE PUBLICATION \"{name}\" FOR TABLE {list}; (or ALTER PUBLICATION \"{name}\" SET TABLE ... if it exists) \
             and set publication_autocreate_mode = \"disabled\"; or make `{}` the tables' owner (ALTER TABLE ... OWNER TO \"{}\";)",
            cfg.user, cfg.user
        ),
    ))
}

/// The publication as `run` will find it, and the captured tables it
/// publishes (what the per-table checks look at).
async fn publication_findings(
    client: &Client,
    cfg: &PostgresConfig,
    standby: bool,
    captured: &[String],
) -> Result<(Vec<Finding>, Vec<String>), PipelineError> {
    use crate::config::PublicationMode;
    let name = &cfg.publication_name;
    let mut out = Vec::new();
    let filtered = cfg.publication_autocreate_mode == PublicationMode::Filtered;
    let tables = match catalog::publication_tables(client, name).await? {
        Some(t) => {
            out.push(ok(format!("publication `{name}` publishes {} table(s)", t.len())));
            let to_add: Vec<String> =
                captured.iter().filter(|w| filtered && !t.contains(w)).cloned().collect();
            for want in &to_add {
                out.push(warn(
                    format!("publication `{name}` does not publish {want}"),
                    "logtap run adds it (publication_autocreate_mode = filtered)",
                ));
            }
            if !standby {
                out.extend(ownership_finding(cfg, &not_owned(client, &to_add).await?, captured));
            }
            t.into_iter()
                .filter(|n| n.split_once('.').is_some_and(|(s, t)| cfg.captures(s, t)))
                .collect()
        }
        None if cfg.publication_autocreate_mode == PublicationMode::Disabled => {
            out.push(fail(
                format!("publication `{name}` does not exist"),
                format!("CREATE PUBLICATION \"{name}\" FOR TABLE <tables>;"),
            ));
            Vec::new()
        }
        None if standby => {
            out.push(fail(
                format!("publication `{name}` does not exist, and a standby cannot create it"),
                format!("on the primary: CREATE PUBLICATION \"{name}\" FOR TABLE <tables>;"),
            ));
            Vec::new()
        }
        None => {
            let owned = match filtered {
                true => ownership_finding(cfg, &not_owned(client, captured).await?, captured),
                false => None,
            };
            // "will be created" is only true when the role may also add them.
            match (publication_creatable(client, cfg).await?, owned) {
                (c, Some(o)) if c.level == Level::Ok => out.push(o),
                (c, o) => out.extend(std::iter::once(c).chain(o)),
            }
            captured.to_vec()
        }
    };
    Ok((out, tables))
}

/// What `logtap run` checks before it creates or reads anything, at every
/// start: the settings and privileges `check` fails on that would
/// otherwise stop it half-way (a slot made, a publication not) or with the
/// server's bare refusal. The first failure is the error, with check's fix.
pub async fn preflight(
    client: &Client,
    cfg: &PostgresConfig,
    standby: bool,
) -> Result<(), PipelineError> {
    let mut found = vec![wal_level_finding(client).await?, role_finding(client, cfg).await?];
    // On a standby nothing is created: `ensure_publication` names the
    // statement to run on the primary, with its tables.
    if !standby {
        let captured = catalog::captured_tables(client, cfg).await?.tables;
        found.extend(publication_findings(client, cfg, standby, &captured).await?.0);
    }
    let Some(f) = found.into_iter().find(|f| f.level == Level::Fail) else {
        return Ok(());
    };
    let err = PipelineError::new(
        logtap_core::ErrorKind::ServerSetup,
        format!(
            "PostgreSQL at {}:{} is not set up for change capture: {} (`logtap check` lists \
             every prerequisite); nothing was read",
            cfg.host, cfg.port, f.what
        ),
    );
    Err(match f.fix {
        Some(fix) => err.with_fix(fix),
        None => err,
    })
}

/// Runs every check against the server in `cfg`; with `snapshots`, also
/// what reading the tables' rows needs.
pub async fn run(cfg: &PostgresConfig, snapshots: bool) -> Result<Vec<Finding>, PipelineError> {
    let client = catalog::connect(cfg).await?;
    let mut out = Vec::new();
    let version: String = setting(&client, "server_version").await?;
    out.push(ok(format!(
        "connected to PostgreSQL {version} at {}:{} as {}",
        cfg.host, cfg.port, cfg.user
    )));

    let num: i64 = setting(&client, "server_version_num").await?.parse().unwrap_or(0);
    let standby = catalog::in_recovery(&client).await?;
    if standby {
        out.extend(standby_findings(&client, num, &version).await?);
    }

    if snapshots {
        out.push(snapshot_finding(&client, cfg, num, &version, standby).await);
    }

    out.push(wal_level_finding(&client).await?);

    let slot = catalog::slot_info(&client, &cfg.slot_name).await?;
    out.extend(capacity_findings(&client, cfg, slot.is_some()).await?);
    out.push(role_finding(&client, cfg).await?);
    let captured = catalog::captured_tables(&client, cfg).await?;
    let (found, tables) = publication_findings(&client, cfg, standby, &captured.tables).await?;
    out.extend(found);

    for entry in captured.unmatched {
        let what = if entry.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            format!("table {entry} does not exist")
        } else {
            format!("postgres.table_include_list entry `{entry}` matches no table")
        };
        out.push(fail(
            what,
            "fix postgres.table_include_list (regular expressions matching the whole schema.table, case ignored)",
        ));
    }
    for t in &tables {
        out.extend(table_findings(&client, cfg, t).await?);
    }
    out.extend(slot_findings(&client, cfg, slot).await?);
    Ok(out)
}

/// What snapshots need: on a standby nothing (chunks close at its replay
/// position); on a primary PostgreSQL 14+ and the right to write watermarks.
async fn snapshot_finding(
    client: &Client,
    cfg: &PostgresConfig,
    num: i64,
    version: &str,
    standby: bool,
) -> Finding {
    if standby {
        return ok(
            "snapshots: chunks bounded by the standby's replay position (nothing is written)",
        );
    }
    let emit = client
        .query_one(
            "SELECT has_function_privilege('pg_logical_emit_message(boolean,text,text)', 'EXECUTE')",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    match (num >= 140000, emit) {
        (false, _) => fail(
            format!("snapshots need PostgreSQL 14 or later (watermarks are logical decoding messages); this is {version}"),
            "set [snapshot] mode = \"no_data\" to stream changes only",
        ),
        (true, false) => fail(
            format!("role {} may not run pg_logical_emit_message (the snapshot's watermarks)", cfg.user),
            format!("GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO \"{}\";", cfg.user),
        ),
        (true, true) => ok("snapshots: watermarks by pg_logical_emit_message"),
    }
}

/// A free replication slot (unless logtap's exists) and WAL sender.
async fn capacity_findings(
    client: &Client,
    cfg: &PostgresConfig,
    slot_exists: bool,
) -> Result<Vec<Finding>, PipelineError> {
    let mut out = Vec::new();
    let max_slots: i64 = setting(client, "max_replication_slots").await?.parse().unwrap_or(0);
    let used_slots = count(client, "SELECT count(*) FROM pg_replication_slots").await?;
    out.push(if slot_exists || used_slots < max_slots {
        ok(format!("replication slots: {used_slots} of {max_slots} used"))
    } else {
        fail(
            format!("all {max_slots} replication slots are in use and slot `{}` does not exist", cfg.slot_name),
            "ALTER SYSTEM SET max_replication_slots = <more>; then restart, or drop an unused slot with pg_drop_replication_slot",
        )
    });
    let max_senders: i64 = setting(client, "max_wal_senders").await?.parse().unwrap_or(0);
    let senders = count(client, "SELECT count(*) FROM pg_stat_replication").await?;
    out.push(if senders < max_senders {
        ok(format!("WAL senders: {senders} of {max_senders} in use"))
    } else {
        fail(
            format!("all {max_senders} WAL senders are in use"),
            "ALTER SYSTEM SET max_wal_senders = <more>; then restart PostgreSQL",
        )
    });

    Ok(out)
}

/// One captured table: readable, and a replica identity that gives its
/// updates and deletes.
async fn table_findings(
    client: &Client,
    cfg: &PostgresConfig,
    t: &str,
) -> Result<Vec<Finding>, PipelineError> {
    let mut out = Vec::new();
    let (schema, name) = t.split_once('.').unwrap_or(("public", t));
    let row = client
        .query_opt(
            "SELECT c.relreplident::text, has_table_privilege(c.oid, 'SELECT'), \
             EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .await
        .map_err(|e| catalog::sql_err(&format!("reading table {t}"), e))?;
    let Some(row) = row else {
        out.push(fail(format!("table {t} does not exist"), "fix postgres.table_include_list"));
        return Ok(out);
    };
    let (ident, select, has_pk): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if !select {
        out.push(fail(
            format!("no SELECT privilege on {t}"),
            format!("GRANT SELECT ON \"{schema}\".\"{name}\" TO \"{}\";", cfg.user),
        ));
    }
    let qualified = format!("\"{schema}\".\"{name}\"");
    match (ident.as_str(), has_pk) {
        ("n", _) => out.push(warn(
            format!("{t} has REPLICA IDENTITY NOTHING: UPDATE and DELETE on it fail while it is published"),
            format!("ALTER TABLE {qualified} REPLICA IDENTITY DEFAULT; (with a primary key) or FULL"),
        )),
        ("d", false) => out.push(warn(
            format!("{t} has no primary key: records get a null key, snapshots page it by ctid, and UPDATE/DELETE fail while it is published"),
            format!("add a primary key, or ALTER TABLE {qualified} REPLICA IDENTITY FULL;"),
        )),
        ("f", _) => out.push(ok(format!("{t}: REPLICA IDENTITY FULL (full before images)"))),
        _ => out.push(ok(format!("{t}: replica identity {}", if ident == "i" { "INDEX" } else { "DEFAULT" }))),
    }
    Ok(out)
}

/// logtap's slot, when it exists: pgoutput, idle, with its WAL.
async fn slot_findings(
    client: &Client,
    cfg: &PostgresConfig,
    slot: Option<catalog::SlotInfo>,
) -> Result<Vec<Finding>, PipelineError> {
    let mut out = Vec::new();
    match slot {
        None => out.push(ok(format!(
            "slot `{}` does not exist yet; logtap run creates it",
            cfg.slot_name
        ))),
        Some(s) => {
            if s.plugin.as_deref() != Some("pgoutput") {
                out.push(fail(
                    format!("slot `{}` uses plugin {:?}", cfg.slot_name, s.plugin),
                    format!("SELECT pg_drop_replication_slot('{}'); or choose another postgres.slot_name", cfg.slot_name),
                ));
            }
            if let Some(pid) = s.active_pid {
                out.push(warn(
                    format!("slot `{}` is active in server process {pid}", cfg.slot_name),
                    format!("stop the other client, or SELECT pg_terminate_backend({pid});"),
                ));
            }
            if s.wal_status.as_deref() == Some("lost") {
                out.push(fail(
                    format!("slot `{}` has lost required WAL", cfg.slot_name),
                    format!("SELECT pg_drop_replication_slot('{}'); then logtap reset and a new snapshot", cfg.slot_name),
                ));
            }
            let lag = catalog::slot_lag_bytes(client, &cfg.slot_name).await?.unwrap_or(0);
            out.push(ok(format!(
                "slot `{}` exists, confirmed {}, lag {lag} bytes of WAL",
                cfg.slot_name,
                s.confirmed_flush_lsn.map(|l| l.to_string()).unwrap_or_else(|| "-".into())
            )));
        }
    }
    Ok(out)
}
