//! The state machine driven by recorded MariaDB 10.11 binlog events
//! (`logtap-binlog/tests/golden/mariadb/events.txt`, captured by `capture.sh`: GTIDs,
//! FULL row metadata, CRC32), no server: positions, checkpoints, restart
//! skips, key changes and schema changes; where a snapshot chunk closes.

use super::*;
use crate::catalog::CatalogColumn;
use crate::types::ColumnDefault;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::EventStreamReader;

/// The recorded events of `file`, from position `from` on, decoded as
/// mysql_common decodes a stream (the FORMAT_DESCRIPTION is read first
/// whatever `from` is).
fn recorded(file: &str, from: u64) -> Vec<Event> {
    let text = include_str!("../../logtap-binlog/tests/golden/mariadb/events.txt");
    let mut reader = EventStreamReader::new(BinlogVersion::Version4);
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("E ")) {
        let f: Vec<&str> = line.split(' ').collect();
        if f[1] != file {
            continue;
        }
        let bytes: Vec<u8> = (0..f[5].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&f[5][i..i + 2], 16).unwrap())
            .collect();
        let ev = reader.read(&*bytes).unwrap().unwrap();
        let pos: u64 = f[2].parse().unwrap();
        if pos >= from || ev.header().event_type_raw() == EventType::FORMAT_DESCRIPTION_EVENT as u8
        {
            out.push(ev);
        }
    }
    assert!(!out.is_empty(), "no recorded events in {file}");
    out
}

fn config(extra: &str) -> MysqlConfig {
    toml::from_str(&format!(
        "host = \"h\"\nuser = \"cdc\"\ndatabase_include_list = [\"golden\"]\n{extra}"
    ))
    .unwrap()
}

fn machine(start: Start, extra: &str) -> BinlogMachine {
    let clock = std::sync::Arc::new(logtap_core::clock::FixedClock(1_700_000_000_000_000));
    BinlogMachine::new(config(extra), "gp", Flavor::Mariadb, start, true, clock)
}

fn from_start(file: &str) -> Start {
    Start {
        file: file.into(),
        pos: 4,
        gtids: Gtids::Mariadb(GtidPosition::default()),
        skip: None,
        skip_debezium: false,
    }
}

/// `golden.t` as information_schema describes it (`v` with a default).
fn catalog_t() -> TableCatalog {
    let col = |name: &str, data_type: &str, column_type: &str, default| CatalogColumn {
        name: name.into(),
        data_type: data_type.into(),
        column_type: column_type.into(),
        nullable: name != "id",
        default,
        extra: String::new(),
        charset: (data_type == "varchar").then(|| "utf8mb4".into()),
        comment: String::new(),
    };
    TableCatalog {
        columns: vec![
            col("id", "int", "int(11)", ColumnDefault::None),
            col("v", "varchar", "varchar(64)", ColumnDefault::Text("none".into())),
        ],
        primary_key: vec!["id".into()],
        charset: Some("utf8mb4".into()),
        comment: String::new(),
    }
}

/// Runs `events` through `m` as the driver does, answering every need
/// (`golden.t` with [`catalog_t`], other tables with nothing), and returns
/// what it yielded, each item as one line of text.
fn run(m: &mut BinlogMachine, events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    for ev in events {
        match m.need(ev) {
            Some(Need::Catalog(id)) => answer(m, id),
            Some(Need::Ddl(file, start, ids)) => {
                m.ddl_catalogs_reading();
                for id in ids {
                    answer(m, id);
                }
                m.ddl_catalogs_read(file, start);
            }
            None => {}
        }
        if let Err(e) = m.process(ev) {
            out.push(format!("error {}", e.message));
            break;
        }
        while let Some(item) = m.pending.pop_front() {
            out.push(describe(&item));
        }
    }
    out
}

fn answer(m: &mut BinlogMachine, id: TableId) {
    let c = if id.table == "t" { catalog_t() } else { TableCatalog::default() };
    m.catalog_read(id, c);
}

fn describe(item: &SourceItem) -> String {
    use logtap_core::envelope::struct_json;
    match item {
        SourceItem::Change(e) => format!(
            "{} {} key={} before={} after={}",
            e.op.code(),
            e.table,
            e.key.as_ref().map_or("null".into(), |k| struct_json(k).to_string()),
            e.before.as_ref().map_or("null".into(), |s| struct_json(s).to_string()),
            e.after.as_ref().map_or("null".into(), |s| struct_json(s).to_string()),
        ),
        SourceItem::SchemaChange(s) => {
            let v = struct_json(&s.value);
            format!(
                "ddl {} {} tables={}",
                v["databaseName"].as_str().unwrap_or("?"),
                v["ddl"].as_str().unwrap_or("?"),
                v["tableChanges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| format!(
                        "{}:{}",
                        c["type"].as_str().unwrap(),
                        c["id"].as_str().unwrap()
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        SourceItem::Transaction(b) => format!("{} {}", if b.end { "END" } else { "BEGIN" }, b.id),
        SourceItem::Checkpoint(p) => format!("at {p}"),
    }
}

/// What the machine yields for the whole recorded `binlog.000007`: DDL
/// (a database, a four-table DROP, CREATE TABLE), a two-row insert with a
/// checkpoint after each row and one after the commit, an update and a
/// delete in one transaction (the delete is the second ROWS event: skip 1
/// event, 1 row), a MyISAM table, a second GTID domain, an XA transaction
/// (no rows: not supported), a two-phase ALTER recorded once (at its COMMIT
/// ALTER), rows after it with the new column.
const BINLOG_000007: &str = r#"ddl golden CREATE DATABASE IF NOT EXISTS golden tables=
at binlog binlog.000007:542 gtid 0-1-17
ddl golden DROP TABLE IF EXISTS `golden`.`t` tables=DROP:"golden"."t"
ddl golden DROP TABLE IF EXISTS `golden`.`m` tables=DROP:"golden"."m"
ddl golden DROP TABLE IF EXISTS `golden`.`n` tables=DROP:"golden"."n"
ddl golden DROP TABLE IF EXISTS `golden`.`c` tables=DROP:"golden"."c"
at binlog binlog.000007:724 gtid 0-1-18
ddl golden CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB tables=CREATE:"golden"."t"
at binlog binlog.000007:908 gtid 0-1-19
c golden.t key={"id":1} before=null after={"id":1,"v":"one"}
at binlog binlog.000007:908 gtid 0-1-19 (skip 0 events, 1 rows)
c golden.t key={"id":2} before=null after={"id":2,"v":"two"}
at binlog binlog.000007:908 gtid 0-1-19 (skip 0 events, 2 rows)
at binlog binlog.000007:1165 gtid 0-1-20
u golden.t key={"id":1} before={"id":1,"v":"one"} after={"id":1,"v":"uno"}
at binlog binlog.000007:1165 gtid 0-1-20 (skip 0 events, 1 rows)
d golden.t key={"id":2} before={"id":2,"v":"two"} after=null
at binlog binlog.000007:1165 gtid 0-1-20 (skip 1 events, 1 rows)
at binlog binlog.000007:1572 gtid 0-1-21
ddl golden CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM tables=CREATE:"golden"."m"
at binlog binlog.000007:1741 gtid 0-1-22
c golden.m key={"id":1} before=null after={"id":1}
at binlog binlog.000007:1741 gtid 0-1-22 (skip 0 events, 1 rows)
at binlog binlog.000007:2000 gtid 0-1-23
c golden.t key={"id":3} before=null after={"id":3,"v":"drei"}
at binlog binlog.000007:2000 gtid 0-1-23 (skip 0 events, 1 rows)
at binlog binlog.000007:2237 gtid 0-1-23,1-2-2
at binlog binlog.000007:2598 gtid 0-1-24,1-2-2
at binlog binlog.000007:2755 gtid 0-1-25,1-2-2
at binlog binlog.000007:2898 gtid 0-1-26,1-2-2
ddl golden ALTER TABLE t ADD COLUMN w INT tables=ALTER:"golden"."t"
at binlog binlog.000007:3061 gtid 0-1-27,1-2-2
c golden.t key={"id":5} before=null after={"id":5,"v":"grüße ✓","w":null}
at binlog binlog.000007:3061 gtid 0-1-27,1-2-2 (skip 0 events, 1 rows)
at binlog binlog.000007:3321 gtid 0-1-28,1-2-2
c golden.m key={"id":2} before=null after={"id":2}
at binlog binlog.000007:3321 gtid 0-1-28,1-2-2 (skip 0 events, 1 rows)
at binlog binlog.000007:3580 gtid 0-1-29,1-2-2
c golden.t key={"id":10} before=null after={"id":10,"v":"two engines","w":null}
at binlog binlog.000007:3580 gtid 0-1-29,1-2-2 (skip 0 events, 1 rows)
at binlog binlog.000007:3841 gtid 0-1-30,1-2-2
c golden.t key={"id":7} before=null after={"id":7,"v":"group b","w":null}
at binlog binlog.000007:3841 gtid 0-1-30,1-2-2 (skip 0 events, 1 rows)
at binlog binlog.000007:4095 gtid 0-1-31,1-2-2
c golden.t key={"id":6} before=null after={"id":6,"v":"group a","w":null}
at binlog binlog.000007:4095 gtid 0-1-31,1-2-2 (skip 0 events, 1 rows)
at binlog binlog.000007:4349 gtid 0-1-32,1-2-2"#;

#[test]
fn a_recorded_binlog_gives_its_changes_schema_changes_and_checkpoints() {
    let mut m = machine(from_start("binlog.000007"), "");
    let got = run(&mut m, &recorded("binlog.000007", 0));
    let want: Vec<&str> = BINLOG_000007.lines().collect();
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

/// The position the machine stores inside the insert transaction of
/// `binlog.000007` (its GTID event is at 908, after 0-1-19), skipping
/// `rows` rows of its first ROWS event.
fn inside_the_insert(rows: u64) -> Start {
    Start {
        file: "binlog.000007".into(),
        pos: 908,
        gtids: Gtids::Mariadb("0-1-19".parse().unwrap()),
        skip: Some((0, rows)),
        skip_debezium: false,
    }
}

/// The same position as Debezium stores it: `event` counts every event of
/// the transaction from its GTID event (the first), then `row` rows.
fn inside_the_insert_as_debezium(events: u64, rows: u64) -> Start {
    Start { skip: Some((events, rows)), skip_debezium: true, ..inside_the_insert(0) }
}

#[test]
fn a_position_taken_from_debezium_counts_every_event_of_the_transaction() {
    let types: Vec<u8> = recorded("binlog.000007", 908)
        .iter()
        .map(|e| e.header().event_type_raw())
        .take_while(|t| *t != 16) // to the XID
        .collect();
    // GTID, then the events before the first ROWS event, done: Debezium's
    // `event` is their count, `row` the rows of the ROWS event sent.
    let gtid = types.iter().position(|t| *t == 162).unwrap();
    let before_rows = (types.iter().position(|t| matches!(t, 23 | 30)).unwrap() - gtid) as u64;
    assert_eq!(before_rows, 3, "GTID, ANNOTATE_ROWS, TABLE_MAP: {types:?}");
    let mut want = run(&mut machine(inside_the_insert(1), ""), &recorded("binlog.000007", 908));
    let mut m = machine(inside_the_insert_as_debezium(before_rows, 1), "");
    let got = run(&mut m, &recorded("binlog.000007", 908));
    // The first checkpoint is logtap's own count (0 ROWS events, 2 rows).
    assert_eq!(got, want, "event types {types:?}");
    // All of that ROWS event's rows, or the whole event, sent: nothing of it again.
    want = run(&mut machine(inside_the_insert(2), ""), &recorded("binlog.000007", 908));
    let got = run(
        &mut machine(inside_the_insert_as_debezium(before_rows + 1, 0), ""),
        &recorded("binlog.000007", 908),
    );
    assert_eq!(got[0], want[0], "{got:#?}");
}

#[test]
fn a_restart_inside_a_transaction_skips_exactly_the_rows_already_sent() {
    let mut m = machine(inside_the_insert(1), "");
    let got = run(&mut m, &recorded("binlog.000007", 908));
    assert_eq!(
        got[..3],
        [
            r#"c golden.t key={"id":2} before=null after={"id":2,"v":"two"}"#,
            "at binlog binlog.000007:908 gtid 0-1-19 (skip 0 events, 2 rows)",
            "at binlog binlog.000007:1165 gtid 0-1-20",
        ],
        "{got:#?}"
    );
    // Both rows sent: the transaction yields only its commit.
    let mut m = machine(inside_the_insert(2), "");
    let got = run(&mut m, &recorded("binlog.000007", 908));
    assert_eq!(got[0], "at binlog binlog.000007:1165 gtid 0-1-20", "{got:#?}");
}

#[test]
fn a_restart_whose_transaction_is_not_the_first_one_sent_stops() {
    // The stored position is inside the insert, but the stream starts at the
    // update after it: the rows to skip cannot be matched.
    let mut m = machine(inside_the_insert(1), "");
    let got = run(&mut m, &recorded("binlog.000007", 1165));
    let last = got.last().unwrap();
    assert!(
        last.starts_with("error") && last.contains("inside the transaction at binlog.000007:908"),
        "{got:#?}"
    );
    assert!(!got.iter().any(|l| l.starts_with("u ")), "{got:#?}");
}

#[test]
fn the_catalog_is_asked_for_once_per_table_and_again_after_ddl() {
    let mut m = machine(from_start("binlog.000007"), "");
    let mut asked = Vec::new();
    for ev in recorded("binlog.000007", 0) {
        match m.need(&ev) {
            Some(Need::Catalog(id)) => {
                asked.push(format!("table {id}"));
                answer(&mut m, id);
            }
            Some(Need::Ddl(file, start, ids)) => {
                asked.push(format!(
                    "ddl {file}:{start} {}",
                    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
                ));
                m.ddl_catalogs_reading();
                for id in ids {
                    answer(&mut m, id);
                }
                m.ddl_catalogs_read(file, start);
            }
            None => {}
        }
        m.process(&ev).unwrap();
    }
    assert_eq!(
        asked,
        [
            // CREATE TABLE t, then its rows need nothing more.
            "ddl binlog.000007:766 golden.t",
            // CREATE TABLE m: every catalog is read afresh after a DDL.
            "ddl binlog.000007:1614 golden.m",
            "table golden.t",
            // The two-phase ALTER: read at its COMMIT ALTER only.
            "ddl binlog.000007:2943 golden.t",
            "table golden.m",
        ],
        "{asked:#?}"
    );
}

#[test]
fn schema_changes_can_be_turned_off() {
    let mut m = machine(from_start("binlog.000007"), "include_schema_changes = false");
    let got = run(&mut m, &recorded("binlog.000007", 0));
    assert!(!got.iter().any(|l| l.starts_with("ddl")), "{got:#?}");
    assert_eq!(got.iter().filter(|l| l.starts_with("c ")).count(), 9, "{got:#?}");
}

/// Where an event starts in its file.
fn start_of(ev: &Event) -> u64 {
    u64::from(ev.header().log_pos()) - u64::from(ev.header().event_size())
}

/// A machine that has read `binlog.000007` up to `pos` (the events before
/// it), with a snapshot of `golden.t` begun: its first chunk requested.
/// Returns the machine, the chunk, and the events from `pos` on.
fn snapshot_at(pos: u64) -> (BinlogMachine, u64, Vec<Event>) {
    use logtap_core::chunks::SnapStep;
    use snapshot::SnapSetup;
    let events = recorded("binlog.000007", 0);
    let split = events.iter().position(|e| start_of(e) == pos).unwrap();
    let mut m = machine(from_start("binlog.000007"), "");
    run(&mut m, &events[..split]);
    m.snapshot_setup(SnapSetup {
        chunk_size: 10,
        signal_table: None,
        watermarks: snapshot::Watermarks::ReadView,
    });
    let progress = logtap_core::SnapshotProgress {
        pending_tables: vec!["golden.t".into()],
        ..Default::default()
    };
    m.start_snapshot(progress, 10);
    assert_eq!(m.snapshot_step().unwrap(), SnapStep::Describe(TableId::new("golden", "t")));
    m.snapshot_table_read(TableId::new("golden", "t"), catalog_t(), 3).unwrap();
    let SnapStep::Chunk(req) = m.snapshot_step().unwrap() else { panic!("no chunk") };
    assert_eq!(req.select, "SELECT `id`, `v` FROM `golden`.`t` ORDER BY `id` LIMIT 11");
    (m, req.chunk, events[split..].to_vec())
}

fn chunk_rows(ids: &[(i64, &str)]) -> Vec<Vec<mysql_common::value::Value>> {
    use mysql_common::value::Value as My;
    ids.iter().map(|(id, v)| vec![My::Int(*id), My::Bytes(v.as_bytes().to_vec())]).collect()
}

fn at(pos: u64) -> snapshot::BinlogAt {
    snapshot::BinlogAt { file: "binlog.000007".into(), pos }
}

#[test]
fn a_chunk_closes_where_the_stream_reaches_its_read_view() {
    // The window opens before the insert of ids 1 and 2 (0-1-19, 908..1165);
    // the chunk's read view is after it.
    let (mut m, chunk, events) = snapshot_at(908);
    m.snapshot_rows(
        chunk,
        chunk_rows(&[(1, "one"), (2, "two"), (9, "nine")]),
        snapshot::RowsAt::Position(at(1165)),
    )
    .unwrap();
    assert!(m.pending.is_empty(), "the stream is behind the read view: nothing yet");
    let got = run(&mut m, &events[..20]);
    let reads: Vec<&String> = got.iter().filter(|l| l.starts_with("r ")).collect();
    // Ids 1 and 2 changed in the window: sent as changes only.
    assert_eq!(
        reads,
        [r#"r golden.t key={"id":9} before=null after={"id":9,"v":"nine"}"#],
        "{got:#?}"
    );
    let r = got.iter().position(|l| l.starts_with("r ")).unwrap();
    // Right after the insert's commit (1165), before the next transaction's rows.
    assert!(
        got[r - 1].starts_with("at binlog binlog.000007:1165 gtid 0-1-20 (snapshot"),
        "{got:#?}"
    );
    assert_eq!(got[r + 1], "at binlog binlog.000007:1165 gtid 0-1-20", "done: {got:#?}");
    assert!(got[r + 2].starts_with("u golden.t"), "{got:#?}");
    assert!(got[..r].iter().any(|l| l.starts_with(r#"c golden.t key={"id":2}"#)));
}

/// The checkpoint queued after a chunk's reads carries the snapshot's
/// progress (its last key), so a stop there resumes at the next chunk and
/// never takes the snapshot for finished.
#[test]
fn the_checkpoint_after_a_chunk_carries_the_progress_to_the_next_chunk() {
    use logtap_core::chunks::SnapStep;
    let (mut m, chunk, _) = snapshot_at(1165);
    let rows: Vec<(i64, String)> = (10..21).map(|i| (i, format!("v{i}"))).collect();
    let rows: Vec<(i64, &str)> = rows.iter().map(|(i, v)| (*i, v.as_str())).collect();
    m.snapshot_rows(chunk, chunk_rows(&rows), snapshot::RowsAt::Position(at(1165))).unwrap();
    let items: Vec<String> = m.pending.drain(..).map(|i| describe(&i)).collect();
    assert_eq!(items.iter().filter(|l| l.starts_with("r ")).count(), 10, "{items:#?}");
    let last = items.last().unwrap();
    assert_eq!(
        last,
        r#"at binlog binlog.000007:1165 gtid 0-1-20 (snapshot: 1 tables left, 10 rows of the first, last key ["19"])"#
    );
    let SnapStep::Chunk(next) = m.snapshot_step().unwrap() else { panic!("no next chunk") };
    assert!(next.select.contains("`id` > 19"), "{}", next.select);
}

#[test]
fn a_chunk_whose_read_view_is_behind_the_stream_is_read_again() {
    use logtap_core::chunks::SnapStep;
    // The window opens after the insert (1165), the rows come from before
    // it (908): the insert went out unnoted, so these rows are stale.
    let (mut m, chunk, _) = snapshot_at(1165);
    m.snapshot_rows(chunk, chunk_rows(&[(9, "old")]), snapshot::RowsAt::Position(at(908))).unwrap();
    assert!(m.pending.is_empty(), "{:?}", m.pending);
    let SnapStep::Chunk(again) = m.snapshot_step().unwrap() else { panic!("not read again") };
    assert!(again.chunk > chunk);
    // Rows at the stream's position close at once, all of them reads.
    m.snapshot_rows(
        again.chunk,
        chunk_rows(&[(1, "one"), (2, "two")]),
        snapshot::RowsAt::Position(at(1165)),
    )
    .unwrap();
    let got: Vec<String> = m.pending.iter().map(describe).collect();
    assert_eq!(got.iter().filter(|l| l.starts_with("r ")).count(), 2, "{got:#?}");
    assert_eq!(got.last().unwrap(), "at binlog binlog.000007:1165 gtid 0-1-20", "{got:#?}");
}

/// With transaction metadata (MariaDB): a BEGIN at every GTID event, DDL
/// included, an END only at a transaction's commit, both with the GTID as
/// id, as Debezium's MariaDB connector sends them; every streamed change
/// carries its transaction's GTID.
#[test]
fn transaction_boundaries_follow_debeziums_mariadb_connector() {
    let mut cfg = config("");
    cfg.tx_metadata = true;
    let clock = std::sync::Arc::new(logtap_core::clock::FixedClock(1_700_000_000_000_000));
    let mut m =
        BinlogMachine::new(cfg, "gp", Flavor::Mariadb, from_start("binlog.000007"), true, clock);
    let mut items = Vec::new();
    for ev in &recorded("binlog.000007", 0) {
        match m.need(ev) {
            Some(Need::Catalog(id)) => answer(&mut m, id),
            Some(Need::Ddl(file, start, ids)) => {
                m.ddl_catalogs_reading();
                ids.into_iter().for_each(|id| answer(&mut m, id));
                m.ddl_catalogs_read(file, start);
            }
            None => {}
        }
        m.process(ev).unwrap();
        items.extend(m.pending.drain(..));
    }
    let (mut open, mut ends, mut changes, mut ddl_begins) = (None::<String>, 0, 0, 0);
    for item in &items {
        match item {
            SourceItem::Transaction(b) if !b.end => {
                assert_eq!(b.id, b.raw_id);
                // A DDL's group (no END) is replaced; a transaction's ended.
                assert_eq!(b.id.split('-').count(), 3, "a MariaDB GTID: {}", b.id);
                open = Some(b.id.clone());
            }
            SourceItem::Transaction(b) => {
                assert_eq!(open.take().as_deref(), Some(b.id.as_str()), "END of another");
                ends += 1;
            }
            SourceItem::Change(e) => {
                let block = e.transaction.as_ref().expect("a streamed change without a block");
                assert_eq!(Some(&block.id), open.as_ref());
                changes += 1;
            }
            SourceItem::SchemaChange(_) => {
                // One record per table of the statement, all in its group;
                // the next BEGIN replaces it, no END.
                assert!(open.is_some(), "a DDL without its BEGIN");
                ddl_begins += 1;
            }
            SourceItem::Checkpoint(_) => {}
        }
    }
    assert!(
        ends >= 2 && changes >= 3 && ddl_begins >= 1,
        "{ends} ENDs, {changes} changes, {ddl_begins} DDL"
    );
}
