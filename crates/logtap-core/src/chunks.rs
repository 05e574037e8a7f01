//! What a snapshot's chunk task is asked and why it could not answer: the
//! data both sources' machines and drivers share. The task's handle and the
//! drive loop are in `logtap-runtime`.

use crate::traits::SnapshotProgress;

/// Why a chunk's `SELECT` could not be read, reported by either source's
/// chunk task and acted on by its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vanished {
    /// The table's columns changed under the `SELECT` (a column dropped,
    /// a key retyped): describe the table again and read the chunk again.
    Altered,
    /// The table (or its schema) no longer exists: skip it.
    TableGone,
    /// The signal's additional condition for the table fails on the
    /// server by itself (`SELECT 1 FROM t WHERE (condition) LIMIT 0`): no
    /// retry can read it, so the table's snapshot is dropped with this
    /// server error (stored with the progress, the condition would fail
    /// the same way after every restart).
    BadCondition(String),
}

impl Vanished {
    /// The query that tells a bad condition from a table that changed.
    pub fn condition_check(from: &str, condition: Option<&str>) -> Option<String> {
        condition.map(|c| format!("SELECT 1 FROM {from} WHERE ({c}) LIMIT 0"))
    }

    /// Whether the table being read (the first pending one) leaves the
    /// snapshot, saying why in the log; a bad condition leaves with it.
    pub fn drops_table(&self, progress: &mut SnapshotProgress) -> bool {
        let Some(table) = progress.pending_tables.first().cloned() else { return false };
        match self {
            Vanished::Altered => false,
            Vanished::TableGone => {
                tracing::warn!(table = %table, "table to snapshot no longer exists: skipped");
                true
            }
            Vanished::BadCondition(error) => {
                let condition = progress.conditions.remove(&table).unwrap_or_default();
                tracing::error!(
                    table = %table, condition = %condition, error = %error,
                    "the snapshot's condition for this table fails on the server: its snapshot \
                     is dropped (the stream goes on); send the signal again with a condition \
                     the server accepts (logtap snapshot --where ...)"
                );
                true
            }
        }
    }
}

/// Read one chunk: what either source's chunk task is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRequest {
    pub chunk: u64,
    /// The chunk's `SELECT`, literals included.
    pub select: String,
    /// The signal's condition alone on the table (see
    /// [`Vanished::condition_check`]), run when the `SELECT` fails.
    pub check: Option<String>,
}

/// What a source's snapshot machine asks its driver to do now.
#[derive(Debug, PartialEq, Eq)]
pub enum SnapStep {
    /// Nothing (no snapshot, a chunk in flight, or all read).
    Idle,
    /// Describe this table and give the description to the machine.
    Describe(crate::TableId),
    /// Read this chunk.
    Chunk(ChunkRequest),
}
