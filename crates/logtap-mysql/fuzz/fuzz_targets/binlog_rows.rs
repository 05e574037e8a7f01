#![no_main]
// libfuzzer-sys's panic hook aborts at any panic, even one logtap catches:
// the source decodes rows under catch_unwind (types::decoded_rows), so a
// silent hook replaces it (a message per caught panic would slow the run).
// A panic that escapes still aborts: libfuzzer-sys catches it around each
// input and aborts, keeping the input; `cargo test` of logtap-mysql
// replays it with the message.
libfuzzer_sys::fuzz_target!(
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| logtap_mysql_fuzz::binlog_rows(data)
);
