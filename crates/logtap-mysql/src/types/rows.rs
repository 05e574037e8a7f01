//! A ROWS event's row images, decoded by mysql_common without letting its
//! panics through. Its value decoder indexes a column's TABLE_MAP metadata
//! by the column's type without checking the length (a BLOB column with no
//! metadata byte panics), so bytes a server should never send would crash
//! the process instead of stopping the source with an error that names the
//! event. Found by the `binlog_rows` fuzz target.

use mysql_common::binlog::events::{RowsEventData, TableMapEvent};
use mysql_common::binlog::row::BinlogRow;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One row of a ROWS event: its before and after images.
pub type RowImages = (Option<BinlogRow>, Option<BinlogRow>);

/// The rows of `rows` read with `tme`'s columns; a decoder panic ends the
/// iteration with an `InvalidData` error.
pub fn decoded_rows<'a>(
    rows: &'a RowsEventData<'a>,
    tme: &'a TableMapEvent<'a>,
) -> impl Iterator<Item = io::Result<RowImages>> + 'a {
    let mut inner = rows.rows(tme);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| inner.next())) {
            Ok(item) => item,
            Err(_) => {
                failed = true;
                Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the row decoder failed on these bytes: the TABLE_MAP's column metadata does \
                     not fit the column types",
                )))
            }
        }
    })
}
