# Loupe: `make run` starts the server on embedded storage; `make test` runs every test,
# installing what the tests need when it is missing.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/loupe-dev/loupe/internal/version.Version=$(VERSION)
# Each fuzz target runs this long in `make test`: a smoke run that keeps decoders from
# regressing into a crash within the CI budget (about 70 targets). Fuzz for real with
# `make fuzz FUZZTIME=10m`, or one target with `go test -fuzz FuzzX ./pkg`.
FUZZTIME ?= 3s
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# libchdb.so, ClickHouse in-process, which the ClickHouse backend's tests run on (build tag
# chdb); test-deps installs it there.
CHDB_LIB ?= $${XDG_CACHE_HOME:-$$HOME/.cache}/loupe/chdb/libchdb.so
CHDB_PKGS = ./internal/store/clickhouse/...
# Packages tested with the race detector: those that do not link DuckDB (its C++ would be
# rebuilt for -race at great cost, and it is not instrumented anyway). e2e runs the binary.
RACE_PKGS = ./internal/api/prom/... ./internal/config/... ./internal/ingest/otlp/... \
	./internal/ingest/promscrape/... ./internal/ingest/labellimit/... ./internal/jobs/... \
	./internal/pipeline/... ./internal/querylimit/... ./internal/runs/... \
	./internal/scrub/... ./internal/selfmetrics/... ./internal/store/tsdb/... ./bench/loadgen/...

.PHONY: build run test test-deps lint race unit ui ui-check browser fuzz bench bench-smoke bench-go clean

# The first build compiles DuckDB's C++ sources (about 15 minutes on 2 cores) and says so;
# -v then lists each package as it is built. Later builds take seconds.
build:
	@if [ ! -x bin/loupe ]; then echo "building bin/loupe: the first build on a machine compiles DuckDB (C++), about 15 minutes on 2 cores, listing packages as they are built; later builds take seconds"; fi
	$(GO) build $(if $(wildcard bin/loupe),,-v) -ldflags '$(LDFLAGS)' -o bin/loupe ./cmd/loupe

run: build
	./bin/loupe serve --data-dir loupe-data

# The browser checks run beside the Go tests (scripts/beside.sh says why); each phase's
# target also runs alone.
test: test-deps lint
	./scripts/beside.sh '$(MAKE) --no-print-directory browser' '$(MAKE) --no-print-directory unit'
	$(MAKE) --no-print-directory race ui-check fuzz

test-deps:
	./scripts/test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files "*.go")); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...
	$(STATICCHECK) ./...
	cd sdk && $(STATICCHECK) ./...
	CHDB_LIB_PATH=$(CHDB_LIB) $(GO) vet -tags chdb $(CHDB_PKGS)
	CHDB_LIB_PATH=$(CHDB_LIB) $(STATICCHECK) -tags chdb $(CHDB_PKGS)
	$(GO) mod tidy -diff
	cd sdk && $(GO) mod tidy -diff
	./scripts/check-sizes.sh

# One go test run with the chdb tag, so that the ClickHouse backend's tests on chDB run
# beside the e2e package rather than after it (the tag adds files only to those packages).
unit:
	CHDB_LIB_PATH=$(CHDB_LIB) $(GO) test -tags chdb -count=1 -timeout 15m ./...
	cd sdk && $(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)

# Rebuilds the web UI bundle (ui/dist, committed and embedded in the binary).
ui:
	./ui/install-deps.sh && cd ui && npm run build

# Fails when the committed bundle does not match a fresh build of ui/src.
ui-check:
	./ui/check-bundle.sh

# Headless Chromium (Debian) driven by playwright-core against a live, seeded server.
# Screenshots land in ui/e2e/artifacts.
browser:
	LOUPE_SCREENSHOTS=$(CURDIR)/ui/e2e/artifacts ./ui/e2e/run.sh

# Runs every fuzz target briefly so decoders and parsers never regress into a crash.
fuzz:
	FUZZTIME=$(FUZZTIME) CHDB_LIB_PATH=$(CHDB_LIB) ./scripts/fuzz.sh

# The benchmark harness: Loupe (and Debian's Prometheus, side by side) on fresh data dirs;
# writes bench/results/<date>.json and .txt. See docs/performance.md.
# Full query size: make bench BENCHFLAGS='-query-logs 10000000 -query-spans 10000000'
bench: build
	$(GO) run ./bench/cmd/loupe-bench run -loupe bin/loupe -out bench/results $(BENCHFLAGS)

bench-smoke: build
	$(GO) run ./bench/cmd/loupe-bench run -smoke -loupe bin/loupe -out $${TMPDIR:-/tmp}/loupe-bench-smoke

# Go micro-benchmarks beside the code.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
