//! The state machine driven by recorded pgoutput messages (protocol v1,
//! PostgreSQL 15, `logtap-pgoutput/tests/golden/v1.hex`), no server:
//! checkpoints at commits and keepalives, key changes, TOAST, the catalog
//! questions it asks.

use super::*;
use crate::catalog::{CatalogColumn, CatalogType};

/// The recorded messages, each given the LSN of its position in the file
/// (the file has no XLogData headers; Begin and Commit carry their own).
fn recorded() -> Vec<(u64, Vec<u8>)> {
    let text = include_str!("../../logtap-pgoutput/tests/golden/v1.hex");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, l)| {
            let bytes = (0..l.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&l[j..j + 2], 16).unwrap())
                .collect();
            (0x1000 + i as u64, bytes)
        })
        .collect()
}

fn machine(extra: &str) -> PgMachine {
    machine_with(extra, false)
}

/// [`machine`], with transaction metadata on or off.
fn machine_with(extra: &str, tx_metadata: bool) -> PgMachine {
    let mut cfg: PostgresConfig = toml::from_str(&format!(
        "host = \"h\"\nuser = \"u\"\ndatabase = \"logtap\"\ntable_include_list = [\"gold.basic\", \"gold.full_ri\"]\n{extra}"
    ))
    .unwrap();
    cfg.tx_metadata = tx_metadata;
    let opts = TypeOptions::from_config(&cfg);
    let clock = std::sync::Arc::new(logtap_core::clock::FixedClock(1_700_000_000_000_000));
    PgMachine::new(cfg, "gp", Decoder::new(1).unwrap(), opts, 0, clock)
}

/// The catalog, as the driver would answer it: `id` is the key and NOT NULL,
/// `name` defaults to 'anon'; the enum `gold.mood`.
fn answer(m: &mut PgMachine, need: Need, asked: &mut Vec<String>) {
    match need {
        Need::Shape(rel) => {
            asked.push(format!("shape {}.{}", rel.namespace, rel.name));
            let columns = rel
                .columns
                .iter()
                .map(|c| CatalogColumn {
                    name: c.name.clone(),
                    not_null: c.name == "id",
                    default_expr: (c.name == "name").then(|| "'anon'::text".to_string()),
                })
                .collect();
            m.shape_read(rel, (columns, vec!["id".to_string()]));
        }
        Need::Types(oid) => {
            asked.push(format!("type {oid}"));
            let mood = CatalogType {
                oid,
                name: "mood".into(),
                typtype: 'e',
                element: 0,
                base: 0,
                base_typmod: -1,
                labels: vec!["sad".into(), "ok".into(), "happy".into()],
            };
            m.types_read(oid, vec![mood]);
        }
    }
}

/// Runs the messages (a keepalive after each, at the message's LSN) and
/// returns the items as text lines and the questions asked.
fn run(m: &mut PgMachine) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut asked = Vec::new();
    for (lsn, data) in recorded() {
        while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap() {
            answer(m, need, &mut asked);
        }
        m.input(Input::Keepalive { wal_end: lsn }).unwrap();
        while let Some(item) = m.pending.pop_front() {
            out.push(describe(&item));
        }
    }
    (out, asked)
}

fn describe(item: &SourceItem) -> String {
    use logtap_core::envelope::struct_json;
    match item {
        SourceItem::Change(e) => format!(
            "{} {} key={} before={} after={}{}",
            e.op.code(),
            e.table,
            e.key.as_ref().map_or("null".into(), |k| struct_json(k).to_string()),
            e.before.as_ref().map_or("null".into(), |s| struct_json(s).to_string()),
            e.after.as_ref().map_or("null".into(), |s| struct_json(s).to_string()),
            e.headers.iter().map(|(k, _)| format!(" +{k}")).collect::<String>(),
        ),
        SourceItem::SchemaChange(_) => "schema change".into(),
        SourceItem::Checkpoint(p) => format!("at {p}"),
        SourceItem::Transaction(b) => format!("{} {}", if b.end { "END" } else { "BEGIN" }, b.id),
    }
}

#[test]
fn changes_come_with_checkpoints_at_commits_key_changes_and_toast() {
    let (out, _) = run(&mut machine(""));
    assert_eq!(
        out[..5],
        [
            r#"c gold.basic key={"id":1} before=null after={"id":1,"name":"alice","score":"BOI=","m":"happy","big":null,"tags":["a","b c"]}"#,
            // Inside the transaction: a restart resumes after the first.
            "at lsn 0/0 (then 1 changes of the transaction committing at 0/19E5B50)",
            // `name` is NULL: written as the column's default, as Kafka
            // Connect's JsonConverter writes Debezium's records.
            r#"c gold.basic key={"id":2} before=null after={"id":2,"name":"anon","score":null,"m":null,"big":null,"tags":null}"#,
            "at lsn 0/0 (then 2 changes of the transaction committing at 0/19E5B50)",
            "at lsn 0/19E5B80",
        ],
        "{out:#?}"
    );
    // An update that leaves a TOASTed value unchanged.
    assert!(
        out.iter().any(|l| l.starts_with(r#"u gold.basic key={"id":3}"#)
            && l.contains(r#""big":"__debezium_unavailable_value""#)),
        "{out:#?}"
    );
    // An update of the key: delete of the old key, create of the new one,
    // with Debezium's headers, then the commit.
    let d = out.iter().position(|l| l.starts_with(r#"d gold.basic key={"id":1}"#)).unwrap();
    assert!(out[d].ends_with("+__debezium.newkey"), "{}", out[d]);
    assert!(out[d + 1].starts_with(r#"c gold.basic key={"id":10}"#), "{}", out[d + 1]);
    assert!(out[d + 1].ends_with("+__debezium.oldkey"), "{}", out[d + 1]);
    assert!(out[d + 2].contains("(then 1 changes"), "{}", out[d + 2]);
    assert_eq!(out[d + 3], "at lsn 0/19E72F8");
    // REPLICA IDENTITY FULL: whole before images.
    assert!(
        out.contains(
            &r#"u gold.full_ri key={"id":1} before={"id":1,"v":"a"} after={"id":1,"v":"b"}"#
                .to_string()
        ),
        "{out:#?}"
    );
    assert!(
        out.contains(&"t gold.full_ri key=null before=null after=null".to_string()),
        "{out:#?}"
    );
    // Tables not captured give nothing; checkpoints only move forward.
    assert!(!out.iter().any(|l| l.contains("nothing_ri") || l.contains("index_ri")), "{out:#?}");
    let lsns: Vec<&String> = out.iter().filter(|l| l.starts_with("at ")).collect();
    assert!(lsns.windows(2).all(|w| w[0] < w[1]), "{lsns:#?}");
}

#[test]
fn a_restart_inside_a_transaction_skips_the_changes_already_sent() {
    let (full, _) = run(&mut machine(""));
    // The recorded stream resent from the start, resuming after the first
    // change of the first transaction: the same but that change (and the
    // checkpoint that covered it).
    let mut m = machine("");
    let commit = Lsn(0x19E_5B50);
    m.resume_inside(Some(PgTxProgress::Changes { commit_lsn: commit, changes: 1 }));
    let (resumed, _) = run(&mut m);
    assert_eq!(resumed[..], full[2..], "{resumed:#?}");
    // Another transaction's progress skips nothing.
    let mut m = machine("");
    m.resume_inside(Some(PgTxProgress::Changes { commit_lsn: Lsn(1), changes: 1 }));
    assert_eq!(run(&mut m).0, full);
}

/// A position taken over from Debezium (`lsn_proc` inside a transaction)
/// skips the first transaction's changes up to that WAL position, as the
/// one counted in changes does; a position before every change skips none.
#[test]
fn a_restart_after_a_debezium_position_skips_changes_up_to_its_lsn() {
    let (full, _) = run(&mut machine(""));
    let first_change = recorded()
        .into_iter()
        .find(|(_, d)| matches!(d.first(), Some(b'I' | b'U' | b'D')))
        .map(|(lsn, _)| lsn)
        .unwrap();
    let xid = recorded()
        .into_iter()
        .find(|(_, d)| d.first() == Some(&b'B'))
        .map(|(_, d)| u32::from_be_bytes([d[17], d[18], d[19], d[20]]))
        .unwrap();
    let through = |sent_through, xid| {
        let mut m = machine("");
        m.resume_inside(Some(PgTxProgress::Through { sent_through: Lsn(sent_through), xid }));
        run(&mut m).0
    };
    let resumed = through(first_change, xid);
    assert_eq!(resumed[..], full[2..], "{resumed:#?}");
    assert_eq!(through(first_change - 1, xid), full);
    // Another transaction first (the publication differs): nothing skipped.
    assert_eq!(through(first_change, xid + 1), full);
}

#[test]
fn keepalives_are_checkpoints_only_between_transactions_and_only_forward() {
    let mut m = machine("");
    let mut asked = Vec::new();
    let msgs = recorded();
    let mut feed = |m: &mut PgMachine, i: usize| {
        let (lsn, data) = &msgs[i];
        while let Some(need) = m.input(Input::XLogData { wal_start: *lsn, data }).unwrap() {
            answer(m, need, &mut asked);
        }
    };
    let drain = |m: &mut PgMachine| m.pending.drain(..).map(|i| describe(&i)).collect::<Vec<_>>();
    feed(&mut m, 0); // Begin
    m.input(Input::Keepalive { wal_end: 0x0200_0000 }).unwrap();
    assert!(drain(&mut m).is_empty(), "a keepalive inside a transaction is no checkpoint");
    for i in 1..=5 {
        feed(&mut m, i); // Type, Relation, two Inserts, Commit
    }
    assert_eq!(drain(&mut m).last().unwrap(), "at lsn 0/19E5B80");
    m.input(Input::Keepalive { wal_end: 0x19E_5B00 }).unwrap();
    assert!(drain(&mut m).is_empty(), "a keepalive behind the last checkpoint is none");
    m.input(Input::Keepalive { wal_end: 0x200_0000 }).unwrap();
    assert_eq!(drain(&mut m), ["at lsn 0/2000000"]);
}

#[test]
fn the_catalog_is_asked_before_anything_changes() {
    let mut m = machine("");
    let msgs = recorded();
    let (lsn, relation) = &msgs[2];
    let input = Input::XLogData { wal_start: *lsn, data: relation };
    // Unanswered, the same question comes back and nothing is yielded.
    for _ in 0..2 {
        assert!(matches!(m.input(input).unwrap(), Some(Need::Shape(r)) if r.name == "basic"));
        assert!(m.pending.is_empty());
    }
    let (_, asked) = run(&mut machine(""));
    assert_eq!(asked[..3], ["shape gold.basic", "type 16468", "shape gold.full_ri"], "{asked:#?}");
    // The enum type is asked for once.
    assert_eq!(asked.iter().filter(|a| a.starts_with("type")).count(), 1, "{asked:#?}");
}

#[test]
fn a_column_of_a_type_the_catalog_does_not_have_is_left_out() {
    let mut m = machine("");
    let mut out = Vec::new();
    for (lsn, data) in recorded().into_iter().take(6) {
        while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap() {
            match need {
                Need::Types(oid) => m.types_read(oid, vec![]),
                other => answer(&mut m, other, &mut Vec::new()),
            }
        }
        out.extend(m.pending.drain(..).map(|i| describe(&i)));
    }
    assert_eq!(
        out[0],
        r#"c gold.basic key={"id":1} before=null after={"id":1,"name":"alice","score":"BOI=","big":null,"tags":["a","b c"]}"#
    );
}

/// pgoutput v1 messages written by hand, for the snapshot tests.
mod wire {
    pub fn relation(id: u32, ns: &str, name: &str, cols: &[(&str, u32, bool)]) -> Vec<u8> {
        let mut b = vec![b'R'];
        b.extend(id.to_be_bytes());
        for s in [ns, name] {
            b.extend(s.as_bytes());
            b.push(0);
        }
        b.push(b'd');
        b.extend((cols.len() as i16).to_be_bytes());
        for (n, oid, key) in cols {
            b.push(u8::from(*key));
            b.extend(n.as_bytes());
            b.push(0);
            b.extend(oid.to_be_bytes());
            b.extend((-1i32).to_be_bytes());
        }
        b
    }
    pub fn begin(xid: u32) -> Vec<u8> {
        begin_at(xid, 0)
    }
    /// A Begin whose commit record is at `final_lsn`.
    pub fn begin_at(xid: u32, final_lsn: u64) -> Vec<u8> {
        let mut b = vec![b'B'];
        b.extend(final_lsn.to_be_bytes());
        b.extend(0i64.to_be_bytes());
        b.extend(xid.to_be_bytes());
        b
    }
    pub fn commit(end: u64) -> Vec<u8> {
        let mut b = vec![b'C', 0];
        b.extend((end - 1).to_be_bytes());
        b.extend(end.to_be_bytes());
        b.extend(0i64.to_be_bytes());
        b
    }
    pub fn message(prefix: &str, content: &str) -> Vec<u8> {
        let mut b = vec![b'M', 1];
        b.extend(0u64.to_be_bytes());
        b.extend(prefix.as_bytes());
        b.push(0);
        b.extend((content.len() as u32).to_be_bytes());
        b.extend(content.as_bytes());
        b
    }
    pub fn insert(rel: u32, values: &[&str]) -> Vec<u8> {
        let mut b = vec![b'I'];
        b.extend(rel.to_be_bytes());
        b.push(b'N');
        b.extend((values.len() as i16).to_be_bytes());
        for v in values {
            b.push(b't');
            b.extend((v.len() as u32).to_be_bytes());
            b.extend(v.as_bytes());
        }
        b
    }
}

mod snapshots {
    use super::*;
    use crate::catalog::SnapshotTable;
    use crate::machine::snapshot::SnapSetup;
    use logtap_core::chunks::SnapStep;
    use logtap_core::SnapshotProgress;
    use logtap_pgoutput::{Column, ReplicaIdentity};

    pub(super) const INT4: u32 = 23;
    pub(super) const TEXT: u32 = 25;

    pub(super) fn table() -> SnapshotTable {
        let col = |name: &str, type_oid, is_key| Column {
            is_key,
            name: name.into(),
            type_oid,
            type_modifier: -1,
        };
        SnapshotTable {
            relation: logtap_pgoutput::Relation {
                id: 77,
                namespace: "gold".into(),
                name: "basic".into(),
                replica_identity: ReplicaIdentity::Default,
                columns: vec![col("id", INT4, true), col("name", TEXT, false)],
            },
            key: vec![("id".into(), "integer".into())],
            estimate: 3,
        }
    }

    fn feed(m: &mut PgMachine, lsn: u64, data: &[u8], out: &mut Vec<String>) {
        let mut asked = Vec::new();
        while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data }).unwrap() {
            answer(m, need, &mut asked);
        }
        while let Some(item) = m.pending.pop_front() {
            // Checkpoints inside transactions are another test's subject.
            if let SourceItem::Checkpoint(c) = &item {
                if matches!(c.position, SourcePosition::Postgres { tx: Some(_), .. }) {
                    continue;
                }
            }
            out.push(match &item {
                SourceItem::Change(e) => {
                    format!("{} {:?}", describe(&item), e.source.values[4])
                }
                _ => describe(&item),
            });
        }
    }

    /// A machine snapshotting gold.basic with chunks of `chunk` rows, its
    /// table described; returns it and its first chunk's SELECT.
    pub(super) fn started(chunk: u32, progress: SnapshotProgress) -> (PgMachine, String) {
        started_on(chunk, progress, false)
    }

    /// [`started`], on a standby (`replay`) or not.
    pub(super) fn started_on(
        chunk: u32,
        progress: SnapshotProgress,
        replay: bool,
    ) -> (PgMachine, String) {
        let mut m = machine("");
        m.snapshot_setup(SnapSetup {
            slot: "s".into(),
            run: 0xab,
            chunk_size: chunk,
            next_chunk: 1,
            signal_table: None,
            replay,
        });
        m.start_snapshot(progress);
        let step = m.snapshot_step().unwrap();
        assert_eq!(step, SnapStep::Describe(logtap_core::TableId::new("gold", "basic")));
        let mut asked = Vec::new();
        while let Some(need) = m.snapshot_table_read(Some(table())).unwrap() {
            answer(&mut m, need, &mut asked);
        }
        let SnapStep::Chunk(req) = m.snapshot_step().unwrap() else { panic!("a chunk") };
        assert_eq!(m.snapshot_step().unwrap(), SnapStep::Idle, "one chunk at a time");
        (m, req.select)
    }

    pub(super) fn rows(ids: &[i32]) -> Vec<Vec<Option<String>>> {
        ids.iter().map(|i| vec![Some(i.to_string()), Some(format!("n{i}"))]).collect()
    }

    #[test]
    fn a_chunk_skips_keys_changed_in_its_window_and_its_progress_rides_the_checkpoint() {
        let progress = SnapshotProgress {
            pending_tables: vec!["gold.basic".into(), "gold.full_ri".into()],
            ..Default::default()
        };
        let (mut m, select) = started(3, progress);
        assert_eq!(select, r#"SELECT "id", "name" FROM "gold"."basic" ORDER BY "id" LIMIT 4"#);
        let rel = wire::relation(77, "gold", "basic", &[("id", INT4, true), ("name", TEXT, false)]);
        let mut out = Vec::new();
        feed(&mut m, 0x100, &rel, &mut out);
        // Low watermark, then the select's rows (4: the chunk goes on).
        feed(&mut m, 0x101, &wire::begin(9), &mut out);
        feed(&mut m, 0x102, &wire::message("logtap.watermark", "s/ab/1/low"), &mut out);
        feed(&mut m, 0x103, &wire::commit(0x104), &mut out);
        m.snapshot_rows(1, rows(&[1, 2, 3, 4]), None).unwrap();
        // Key 2 changes inside the window; a watermark of another run is noise.
        feed(&mut m, 0x105, &wire::begin(10), &mut out);
        feed(&mut m, 0x106, &wire::insert(77, &["2", "changed"]), &mut out);
        feed(&mut m, 0x107, &wire::message("logtap.watermark", "s/ac/1/high"), &mut out);
        feed(&mut m, 0x108, &wire::commit(0x109), &mut out);
        feed(&mut m, 0x10a, &wire::begin(11), &mut out);
        feed(&mut m, 0x10b, &wire::message("logtap.watermark", "s/ab/1/high"), &mut out);
        feed(&mut m, 0x10c, &wire::commit(0x10d), &mut out);
        assert_eq!(
            out,
            [
                r#"at lsn 0/104 (snapshot: 2 tables left, 0 rows of the first, last key none)"#,
                r#"c gold.basic key={"id":2} before=null after={"id":2,"name":"changed"} String("false")"#,
                r#"at lsn 0/109 (snapshot: 2 tables left, 0 rows of the first, last key none)"#,
                r#"r gold.basic key={"id":1} before=null after={"id":1,"name":"n1"} String("first")"#,
                r#"r gold.basic key={"id":3} before=null after={"id":3,"name":"n3"} String("true")"#,
                r#"at lsn 0/10D (snapshot: 2 tables left, 2 rows of the first, last key ["3"])"#,
            ],
            "{out:#?}"
        );
        // The next chunk starts after the last key read (3, though 4 came
        // along to tell that the table goes on).
        let SnapStep::Chunk(req) = m.snapshot_step().unwrap() else { panic!("a chunk") };
        assert_eq!(
            req.select,
            r#"SELECT "id", "name" FROM "gold"."basic" WHERE ("id") > ('3'::integer) ORDER BY "id" LIMIT 4"#
        );
    }

    #[test]
    fn the_last_chunk_ends_the_snapshot_and_the_checkpoint_says_so() {
        let progress = SnapshotProgress {
            pending_tables: vec!["gold.basic".into()],
            last_key: Some(serde_json::json!(["7"])),
            rows_done: 5,
            tables_done: 1,
            ..Default::default()
        };
        let (mut m, select) = started(10, progress);
        assert!(select.contains(r#"WHERE ("id") > ('7'::integer)"#), "{select}");
        let rel = wire::relation(77, "gold", "basic", &[("id", INT4, true), ("name", TEXT, false)]);
        let mut out = Vec::new();
        feed(&mut m, 0x100, &rel, &mut out);
        feed(&mut m, 0x101, &wire::begin(9), &mut out);
        feed(&mut m, 0x102, &wire::message("logtap.watermark", "s/ab/1/low"), &mut out);
        m.snapshot_rows(1, rows(&[8, 9]), None).unwrap();
        feed(&mut m, 0x103, &wire::message("logtap.watermark", "s/ab/1/high"), &mut out);
        assert!(!m.snapshot_finished(), "not before the checkpoint after the reads");
        feed(&mut m, 0x104, &wire::commit(0x105), &mut out);
        assert_eq!(
            out,
            [
                r#"r gold.basic key={"id":8} before=null after={"id":8,"name":"n8"} String("true")"#,
                r#"r gold.basic key={"id":9} before=null after={"id":9,"name":"n9"} String("last")"#,
                "at lsn 0/105",
            ],
            "{out:#?}"
        );
        assert!(m.snapshot_finished());
        assert_eq!(m.snapshot_step().unwrap(), SnapStep::Idle);
    }

    /// On a standby nothing is written: the window opens at the request,
    /// and the chunk closes before the first transaction committed past
    /// the replay position read after its SELECT (or at once, when the
    /// stream is already past it). Keys changed in between are dropped.
    #[test]
    fn on_a_standby_a_chunk_closes_where_the_stream_passes_its_replay_position() {
        let progress = SnapshotProgress {
            pending_tables: vec!["gold.basic".into(), "gold.full_ri".into()],
            ..Default::default()
        };
        let (mut m, _) = started_on(3, progress.clone(), true);
        let rel = wire::relation(77, "gold", "basic", &[("id", INT4, true), ("name", TEXT, false)]);
        let mut out = Vec::new();
        feed(&mut m, 0x100, &rel, &mut out);
        // Streamed after the request, before the rows: key 2 is touched.
        feed(&mut m, 0x101, &wire::begin_at(9, 0x110), &mut out);
        feed(&mut m, 0x102, &wire::insert(77, &["2", "before"]), &mut out);
        feed(&mut m, 0x110, &wire::commit(0x111), &mut out);
        m.snapshot_rows(1, rows(&[1, 2, 3, 4]), Some(0x120)).unwrap();
        assert!(m.pending.is_empty(), "the stream is not past 0/120 yet");
        // Committed below 0/120 (the SELECT saw it): still in the window.
        feed(&mut m, 0x112, &wire::begin_at(10, 0x118), &mut out);
        feed(&mut m, 0x113, &wire::insert(77, &["3", "seen"]), &mut out);
        feed(&mut m, 0x118, &wire::commit(0x119), &mut out);
        // Committed past it: the reads go before this transaction.
        feed(&mut m, 0x121, &wire::begin_at(11, 0x130), &mut out);
        feed(&mut m, 0x122, &wire::insert(77, &["1", "after"]), &mut out);
        feed(&mut m, 0x130, &wire::commit(0x131), &mut out);
        assert_eq!(
            out,
            [
                r#"c gold.basic key={"id":2} before=null after={"id":2,"name":"before"} String("false")"#,
                r#"at lsn 0/111 (snapshot: 2 tables left, 0 rows of the first, last key none)"#,
                r#"c gold.basic key={"id":3} before=null after={"id":3,"name":"seen"} String("false")"#,
                r#"at lsn 0/119 (snapshot: 2 tables left, 0 rows of the first, last key none)"#,
                r#"r gold.basic key={"id":1} before=null after={"id":1,"name":"n1"} String("first")"#,
                r#"c gold.basic key={"id":1} before=null after={"id":1,"name":"after"} String("false")"#,
                r#"at lsn 0/131 (snapshot: 2 tables left, 1 rows of the first, last key ["3"])"#,
            ],
            "{out:#?}"
        );

        // A keepalive already past the replay position: the rows close the
        // chunk as they arrive, and a checkpoint carries the progress.
        let (mut m, _) = started_on(3, progress, true);
        let mut out = Vec::new();
        feed(&mut m, 0x100, &rel, &mut out);
        m.input(Input::Keepalive { wal_end: 0x200 }).unwrap();
        m.snapshot_rows(1, rows(&[1, 2]), Some(0x150)).unwrap();
        feed(&mut m, 0x201, &wire::begin_at(12, 0x210), &mut out);
        assert_eq!(
            out,
            [
                r#"at lsn 0/200 (snapshot: 2 tables left, 0 rows of the first, last key none)"#,
                r#"r gold.basic key={"id":1} before=null after={"id":1,"name":"n1"} String("first")"#,
                r#"r gold.basic key={"id":2} before=null after={"id":2,"name":"n2"} String("last_in_data_collection")"#,
                r#"at lsn 0/200 (snapshot: 1 tables left, 0 rows of the first, last key none)"#,
            ],
            "{out:#?}"
        );
    }
}

mod snapshot_signals {
    use super::snapshots::{rows, table, INT4, TEXT};
    use super::*;
    use crate::machine::snapshot::SnapSetup;
    use logtap_core::chunks::SnapStep;

    /// An execute-snapshot signal's additional condition narrows every
    /// chunk of its table, and travels in the progress (so a resumed
    /// snapshot reads the same rows).
    #[test]
    fn additional_conditions_narrow_the_chunks_and_ride_the_progress() {
        let mut m = machine("");
        m.snapshot_setup(SnapSetup {
            slot: "s".into(),
            run: 0xab,
            chunk_size: 2,
            next_chunk: 1,
            signal_table: None,
            replay: false,
        });
        let signal =
            crate::snapshot::signal("s", Some(&["gold.basic".to_string()]), Some("name <> 'skip'"));
        let mut asked = Vec::new();
        let msg = wire::message("logtap.signal", &signal);
        while let Some(need) = m.input(Input::XLogData { wal_start: 0x10, data: &msg }).unwrap() {
            answer(&mut m, need, &mut asked);
        }
        assert!(matches!(m.snapshot_step().unwrap(), SnapStep::Describe { .. }));
        while let Some(need) = m.snapshot_table_read(Some(table())).unwrap() {
            answer(&mut m, need, &mut asked);
        }
        let SnapStep::Chunk(req) = m.snapshot_step().unwrap() else { panic!("a chunk") };
        assert_eq!(
            req.select,
            r#"SELECT "id", "name" FROM "gold"."basic" WHERE (name <> 'skip') ORDER BY "id" LIMIT 3"#
        );
        let rel = wire::relation(77, "gold", "basic", &[("id", INT4, true), ("name", TEXT, false)]);
        for (lsn, data) in [
            (0x20, rel),
            (0x21, wire::begin(9)),
            (0x22, wire::message("logtap.watermark", "s/ab/1/low")),
        ] {
            while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap()
            {
                answer(&mut m, need, &mut asked);
            }
        }
        m.snapshot_rows(1, rows(&[1, 2, 3]), None).unwrap();
        for (lsn, data) in
            [(0x23, wire::message("logtap.watermark", "s/ab/1/high")), (0x24, wire::commit(0x25))]
        {
            while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap()
            {
                answer(&mut m, need, &mut asked);
            }
        }
        let progress = m
            .pending
            .iter()
            .rev()
            .find_map(|i| match i {
                SourceItem::Checkpoint(c) => c.snapshot.clone(),
                _ => None,
            })
            .expect("a checkpoint with progress");
        assert_eq!(
            progress.conditions.get("gold.basic").map(String::as_str),
            Some("name <> 'skip'")
        );
        let SnapStep::Chunk(req) = m.snapshot_step().unwrap() else { panic!("a chunk") };
        assert_eq!(
            req.select,
            r#"SELECT "id", "name" FROM "gold"."basic" WHERE ("id") > ('2'::integer) AND (name <> 'skip') ORDER BY "id" LIMIT 3"#
        );
    }
}

mod snapshot_faults {
    use super::snapshots::started;
    use logtap_core::chunks::SnapStep;
    use logtap_core::SnapshotProgress;

    #[test]
    fn a_table_dropped_under_its_chunk_is_skipped_and_one_altered_is_described_again() {
        let progress = SnapshotProgress {
            pending_tables: vec!["gold.basic".into(), "gold.full_ri".into()],
            ..Default::default()
        };
        let (mut m, _) = started(3, progress.clone());
        m.snapshot_vanished(1, logtap_core::chunks::Vanished::Altered);
        assert_eq!(
            m.snapshot_step().unwrap(),
            SnapStep::Describe(logtap_core::TableId::new("gold", "basic")),
            "columns changed: the same table, described again"
        );
        let (mut m, _) = started(3, progress);
        m.snapshot_vanished(7, logtap_core::chunks::Vanished::TableGone); // not the chunk in flight: nothing
        assert_eq!(m.snapshot_step().unwrap(), SnapStep::Idle);
        m.snapshot_vanished(1, logtap_core::chunks::Vanished::TableGone);
        assert_eq!(
            m.snapshot_step().unwrap(),
            SnapStep::Describe(logtap_core::TableId::new("gold", "full_ri")),
            "table gone: the next one"
        );
    }
}

/// With transaction metadata: each transaction's BEGIN before its first
/// change and END before its commit's checkpoint, ids `<xid>:<LSN of the
/// message>` as Debezium's, every streamed change with its block's id.
#[test]
fn transaction_boundaries_surround_each_transaction_with_debeziums_ids() {
    let mut m = machine_with("", true);
    let mut items = Vec::new();
    for (lsn, data) in recorded() {
        while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap() {
            answer(&mut m, need, &mut Vec::new());
        }
        items.extend(m.pending.drain(..).map(|i| (lsn, i)));
    }
    let mut open: Option<String> = None;
    let (mut begins, mut changes) = (0, 0);
    for (lsn, item) in &items {
        match item {
            SourceItem::Transaction(b) if !b.end => {
                assert!(open.is_none(), "BEGIN inside a transaction");
                assert_eq!(b.id, format!("{}:{lsn}", b.raw_id));
                open = Some(b.raw_id.clone());
                begins += 1;
            }
            SourceItem::Transaction(b) => {
                assert_eq!(open.take().as_deref(), Some(b.raw_id.as_str()), "END of another");
                assert_eq!(b.id, format!("{}:{lsn}", b.raw_id));
            }
            SourceItem::Change(e) => {
                let xid = open.as_ref().expect("a change outside a transaction");
                let block = e.transaction.as_ref().expect("a streamed change without a block");
                assert_eq!(block.id, format!("{xid}:{lsn}"));
                changes += 1;
            }
            SourceItem::Checkpoint(c) if c.position.to_string().contains("(then") => {
                assert!(open.is_some(), "a checkpoint inside a transaction outside one");
            }
            _ => {}
        }
    }
    assert!(open.is_none() && begins >= 2 && changes >= 4, "{begins} BEGINs, {changes} changes");
    // Off: none of it.
    let (out, _) = run(&mut machine(""));
    assert!(!out.iter().any(|l| l.starts_with("BEGIN") || l.starts_with("END")), "{out:#?}");
}
