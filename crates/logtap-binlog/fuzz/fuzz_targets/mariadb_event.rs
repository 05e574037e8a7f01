#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| logtap_binlog_fuzz::mariadb_event(data));
