#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| logtap_mysql_fuzz::ddl_text(data));
