# The two commands a new machine needs: `make demo` streams a generation from the default small
# model (fetched and verified on first use), `make test` runs every test.
CARGO ?= cargo
PROMPT ?= The three most useful things to pack for a day of hiking are
GEMKIT := target/release/gemkit

.PHONY: demo test test-deps model build bench bench-bindings-swift test-bindings check-mobile

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
	GEMKIT_MODEL="$$(scripts/fetch-model.sh)" $(CARGO) test --release --workspace --exclude uniffi-bindgen
	scripts/test-aarch64.sh
	$(MAKE) --no-print-directory test-bindings
	$(MAKE) --no-print-directory check-mobile

# GemKit against llama.cpp on the same files, alternating runs; prints a table of ratios and
# writes target/bench/bench.md. THREADS (default "1 2"), REPEAT (3) and MODELS choose the runs.
# Then what the Swift bindings' listener costs in decode speed.
bench: build
	scripts/bench.py
	$(MAKE) --no-print-directory bench-bindings-swift

# Decode tok/s through a Swift TokenListener beside the Rust CLI's, alternately, medians of 3.
bench-bindings-swift: model
	scripts/install-binding-deps.sh
	scripts/gen-bindings.sh
	scripts/bench-bindings-swift.sh

# Kotlin (JVM) and Swift tests of the generated bindings against the host-built library and
# the real model; each fails on any failure. Kotlin prints `N passed, N failed`; Swift runs
# `swift test` on ios/ (XCTest: "Executed N tests, with K failures"), the downloader's tests
# included. The first run installs the Kotlin compiler, JNA and Swift (a Debian chroot): see README.
test-bindings: model
	scripts/install-binding-deps.sh
	scripts/gen-bindings.sh
	scripts/test-kotlin.sh
	scripts/test-swift.sh

# The FFI crate compiles for Android and iOS (no NDK or Xcode needed to check).
MOBILE_TARGETS := aarch64-linux-android aarch64-apple-ios
check-mobile:
	@for t in $(MOBILE_TARGETS); do \
	  rustup target list --installed | grep -qx $$t || rustup target add $$t; \
	  $(CARGO) check --quiet -p gemkit-ffi --target $$t || exit 1; \
	done
