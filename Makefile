# The two commands a new machine needs: `make demo` streams a generation from the default small
# model (fetched and verified on first use), `make test` runs every test.
CARGO ?= cargo
PROMPT ?= The three most useful things to pack for a day of hiking are
GEMKIT := target/release/gemkit

.PHONY: demo test test-deps model build

model:
	@scripts/fetch-model.sh >/dev/null

build:
	$(CARGO) build --release -p gemkit-cli

demo: build
	$(GEMKIT) generate --model "$$(scripts/fetch-model.sh)" --prompt "$(PROMPT)" --max-tokens 96 --temperature 0.7 --seed 42

test-deps:
	@scripts/install-test-deps.sh

test: model test-deps
	GEMKIT_MODEL="$$(scripts/fetch-model.sh)" $(CARGO) test --release --workspace --exclude uniffi-bindgen
	scripts/test-aarch64.sh
