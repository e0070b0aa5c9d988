# The two commands a new machine needs: `make demo` streams a generation from the default small
# model (fetched and verified on first use), `make test` runs every test.
CARGO ?= cargo
PROMPT ?= The three most useful things to pack for a day of hiking are
GEMKIT := target/release/gemkit

.PHONY: demo test test-deps test-checked fuzz model build bench bench-deps bench-bindings bench-bindings-swift bench-arm bindings test-bindings check-mobile

model:
	@scripts/fetch-model.sh >/dev/null

build:
	$(CARGO) build --release -p gemkit-cli

demo: build
	$(GEMKIT) generate --model "$$(scripts/fetch-model.sh)" --prompt "$(PROMPT)" --max-tokens 96 --temperature 0.7 --seed 42

test-deps:
	@scripts/install-test-deps.sh

# Every suite in turn; the first that fails stops the run and fails it.
test: model test-deps
	python3 scripts/check-layers.py
	GEMKIT_MODEL="$$(scripts/fetch-model.sh)" $(CARGO) test --release --workspace --exclude uniffi-bindgen
	$(MAKE) --no-print-directory test-checked
	scripts/fuzz.sh $(FUZZ_TEST_SECONDS)
	scripts/test-aarch64.sh
	$(MAKE) --no-print-directory test-bindings
	$(MAKE) --no-print-directory check-mobile

# The hostile-file tests, the fuzz corpus and the stress test again, with overflow checks on
# (profile release-checked): an arithmetic overflow panics instead of wrapping silently.
CHECKED_TESTS := malformed:: hostile:: chat_files:: options:: fuzz_corpus::
test-checked: model
	GEMKIT_MODEL="$$(scripts/fetch-model.sh)" $(CARGO) test --profile release-checked -p gemkit-tests --test main -- $(CHECKED_TESTS)
	GEMKIT_MODEL="$$(scripts/fetch-model.sh)" $(CARGO) test --profile release-checked -p gemkit-tests --test stress

# Coverage-guided fuzzing (cargo-fuzz, nightly): each target FUZZ_SECONDS (make test: 45 s).
FUZZ_TEST_SECONDS ?= 45
FUZZ_SECONDS ?= 600
fuzz: model
	scripts/fuzz.sh $(FUZZ_SECONDS)

# GemKit against llama.cpp on the same files, alternating runs; prints a table of ratios and
# writes target/bench/bench.md. THREADS (default "1 2"), REPEAT (3) and MODELS choose the runs.
# Then what a Kotlin and a Swift listener cost in decode speed beside the Rust CLI.
bench: build bench-deps
	scripts/bench.py
	$(MAKE) --no-print-directory bench-bindings bench-bindings-swift

# bench's Python packages, as wheels (numpy, the llama_cpp driver's imports, the sdist's backend).
bench-deps:
	scripts/install-bench-deps.sh

# Decode tok/s through a Kotlin TokenListener beside the Rust CLI's.
bench-bindings: bindings
	scripts/test-kotlin.sh bench

# Decode tok/s through a Swift TokenListener beside the Rust CLI's, alternately, medians of 3.
bench-bindings-swift: bindings
	scripts/bench-bindings-swift.sh

# aarch64 instructions per prefill and decode token, GemKit against llama.cpp, counted under
# qemu-user on -cpu max, cortex-a76 and cortex-a53 (CPUS); table in ~/.cache/gemkit/arm/results/report.md.
bench-arm: model
	scripts/bench-arm.sh

# The host library and its generated Kotlin and Swift, with what building and testing them needs.
bindings: model
	scripts/install-binding-deps.sh
	scripts/gen-bindings.sh

# Kotlin (JVM, Maven: Surefire prints the counts) and Swift tests (`swift test` on ios/, XCTest)
# of the generated bindings and the wrappers against the host-built library and the real model;
# each fails on any failure. The first run fetches the Maven dependencies and installs Swift (a
# Debian chroot): see README.
test-bindings: bindings
	scripts/test-kotlin.sh
	scripts/test-swift.sh

# The FFI crate compiles for Android and iOS (no NDK or Xcode needed to check).
MOBILE_TARGETS := aarch64-linux-android aarch64-apple-ios
check-mobile:
	@for t in $(MOBILE_TARGETS); do \
	  if ! rustup target list --installed | grep -qx $$t && ! rustup target add $$t; then \
	    echo "SKIPPED: check-mobile $$t: rustup cannot install this target on this machine"; continue; \
	  fi; \
	  $(CARGO) check --quiet -p gemkit-ffi --target $$t || exit 1; \
	done
