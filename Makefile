# reco: `make test` installs what the tests need (on Debian, as root) and runs
# every test; `make demo` runs the demo; `make bench` runs the Go benchmarks.

GO ?= go
# Packages with goroutines that share state run under the race detector too.
RACE_PKGS = ./internal/event/... ./internal/feature/... ./internal/stream/... ./internal/app/... \
            ./internal/serve/... ./internal/loadgen/... ./internal/demo/... ./cmd/reco/...

.PHONY: test deps vet race unit demo build bench

test: deps vet unit race

deps:
	@bash scripts/test-deps.sh

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)

build:
	$(GO) build -o bin/reco ./cmd/reco

demo:
	$(GO) run ./cmd/reco demo --duration 30s

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
