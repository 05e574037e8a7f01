#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| logtap_mysql_fuzz::binlog_rows(data));
