//! Restoring a saved chat from arbitrary bytes, then a turn of the restored chat.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gemkit_tests::fuzz::restore(data));
