//! The real model's tokenizer: encoding arbitrary text, decoding arbitrary ids at once and streamed.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gemkit_tests::fuzz::tokenizer(data));
