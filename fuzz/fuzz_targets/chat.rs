//! A chat turn through Gemma's template with an arbitrary system prompt and message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gemkit_tests::fuzz::chat(data));
