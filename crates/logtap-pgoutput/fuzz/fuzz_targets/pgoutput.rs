#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| logtap_pgoutput_fuzz::pgoutput(data));
