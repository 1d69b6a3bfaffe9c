# reco: `make test` installs what the tests need (on Debian, as root), starts
# the real servers the adapter tests use, and runs every test; `make demo`
# runs the demo; `make bench` runs the Go benchmarks.

GO ?= go
# Packages with goroutines that share state run under the race detector too.
RACE_PKGS = ./internal/event/... ./internal/feature/... ./internal/stream/... ./internal/app/... ./internal/dedupe/... \
            ./internal/serve/... ./internal/loadgen/... ./internal/demo/... ./internal/experiment/... \
            ./internal/analytics/... ./cmd/reco/...

.PHONY: test deps vet demo build bench

test: deps vet
	@RACE_PKGS="$(RACE_PKGS)" GO="$(GO)" bash scripts/test.sh

deps:
	@bash scripts/test-deps.sh

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/reco ./cmd/reco

demo:
	$(GO) run ./cmd/reco demo --duration 30s

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
