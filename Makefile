# redswitch: `make demo` runs the booth rig in containers, `make test` runs every test.
SHELL := /bin/bash
export TESTCONTAINERS_RYUK_DISABLED := true
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/redswitch
TESTSUM := bin/testsum
# Every Go file of the project, found without git (a tarball or a CI
# checkout without .git must lint the same); generated trees are pruned,
# not walked (.build holds the node image's rootfs).
FIND_GO := find . \( -path ./.git -o -path ./.build -o -path ./bin -o -path ./out -o -path ./testdata-out \) -prune -o -name '*.go' -print
GO_SOURCES := $(shell $(FIND_GO)) go.mod go.sum $(shell find dashboard/static -type f 2>/dev/null)
TEST_TIMEOUT ?= 80m
DEMO_FLAGS ?=

.PHONY: build image demo booth test unit deps lint clean bench

build: $(BIN)

$(BIN): $(GO_SOURCES)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/redswitch

deps:
	@scripts/install-deps.sh

# The node image: a Debian rootfs layer (slow, cached by the hash of its
# inputs) plus the binary (seconds).
image: deps build
	@deploy/image/build.sh $(BIN)

demo: image
	$(BIN) demo --data-dir .build/demo $(DEMO_FLAGS)

# The booth on one machine: agent-only node containers, the head node
# from the shipped booth.yaml (virtual switches), API on 127.0.0.1:8080.
booth: image
	@scripts/booth.sh

# An empty file list would make gofmt read stdin and pass: refuse it.
lint:
	@files=$$($(FIND_GO)); \
	if [ -z "$$files" ]; then echo "lint: found no Go files" >&2; exit 1; fi; \
	out=$$(gofmt -l $$files) || { echo "lint: gofmt failed" >&2; exit 1; }; \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi
	$(GO) vet ./...

# testsum echoes go test's output and ends with per-package counts, the
# skipped tests with their reasons and "N passed, N failed, N skipped";
# pipefail keeps go test's own failure too.
$(TESTSUM): $(wildcard tools/testsum/*.go)
	$(GO) build -o $(TESTSUM) ./tools/testsum

unit: lint $(TESTSUM)
	set -o pipefail; $(GO) test -json -short -count=1 ./... | $(TESTSUM)

# Every test: unit, fuzz seeds, integration on real containers, browser.
test: image lint $(TESTSUM)
	set -o pipefail; $(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) -p 1 ./... | $(TESTSUM)

bench: image
	$(BIN) bench failover --trials 20 --timings aggressive --out out/bench-failover

clean:
	-$(BIN) cleanup 2>/dev/null
	rm -rf bin .build
