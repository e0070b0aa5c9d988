//! The fuzz targets' committed corpus, replayed in the normal suite (and in `make test`'s
//! overflow-checked run): the seeds, and under `fuzz/regressions/<target>/` every input that
//! once crashed a target, each a regression test of its own finding.

use std::path::Path;

use gemkit_tests::fuzz::{run, TARGETS};

#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for target in TARGETS {
        let mut inputs = 0;
        for folder in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| run(target, &data));
                assert!(outcome.is_ok(), "{target}: {} fails", path.display());
                inputs += 1;
            }
        }
        gemkit_tests::report(format_args!("{target}: {inputs} inputs replayed"));
        assert!(inputs > 0, "{target} has no corpus");
    }
}
