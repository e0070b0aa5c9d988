//! One test binary for every cross-crate check (one link, one run).

mod chat;
mod chat_files;
mod engine;
mod fuzz_corpus;
mod hostile;
mod malformed;
mod options;
mod parity;
mod real_model;
mod release;
mod robust;
