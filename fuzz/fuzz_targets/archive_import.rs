#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| locrit_fuzzing::archive_import(data));
