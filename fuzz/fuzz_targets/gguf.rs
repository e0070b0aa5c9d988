//! The GGUF parser, the config reader, the loader and a forward pass of whatever loads.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gemkit_tests::fuzz::gguf(data));
