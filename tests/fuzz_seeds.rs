//! Writes the seed corpus of the fuzz targets into `fuzz/corpus/<target>/` (committed; rerun
//! after a format change): `cargo run -p gemkit-tests --example fuzz-seeds`.

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    gemkit_tests::fuzz::write_seeds(&dir);
    println!("wrote the seed corpus under {}", dir.display());
}
