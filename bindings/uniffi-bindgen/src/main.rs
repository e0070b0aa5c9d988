//! `cargo run -p uniffi-bindgen -- generate --library libgemkit_ffi.so ...`: the generator pinned
//! to the same UniFFI version as the library, so the scaffolding and the bindings always match.

fn main() {
    uniffi::uniffi_bindgen_main()
}
