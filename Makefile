# dockerlogsrotating: OpenTelemetry Collector receiver for Docker container logs.
# `make help` lists the targets. Needs only Go (and Docker for the tests).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
COLLECTOR := bin/otelcol-dockerlogs
RUN_CONFIG ?= config.yaml

# Fuzz targets as pkg:FuzzName (pkg relative to the repo root). `make test`
# runs each for FUZZTIME_SHORT, `make fuzz` for FUZZTIME. A target that
# `go test -list` does not show, or whose package does not exist yet, is
# skipped with a warning; a package that does not compile fails the run.
FUZZ_TARGETS ?= \
	internal/decode:FuzzMuxReader \
	internal/decode:FuzzRawReader \
	internal/decode:FuzzParseTimestamp \
	internal/line:FuzzAssembler \
	internal/match:FuzzGlobVsPathMatch \
	internal/match:FuzzGlobVsGobwas \
	internal/multiline:FuzzGrouper \
	receiver:FuzzConfig
FUZZTIME_SHORT ?= 3s
FUZZTIME ?= 60s

TEST_TIMEOUT ?= 25m
EXITED ?= 2000
BENCH_PKGS ?= ./internal/...
BENCH_FLAGS ?=

# Go files we own and format: everything but build outputs and tool caches.
GO_FILES = $(shell find . \( -path ./.git -o -path ./.build -o -path ./.tools -o -path ./bin \) -prune -o -name '*.go' -print)

.PHONY: help
help: ## Show this help
	@echo "Usage: make <target> [VAR=value]"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: FUZZ_TARGETS, FUZZTIME ($(FUZZTIME)), FUZZTIME_SHORT ($(FUZZTIME_SHORT)),"
	@echo "           TEST_TIMEOUT ($(TEST_TIMEOUT)), RUN_CONFIG ($(RUN_CONFIG)), BENCH_PKGS ($(BENCH_PKGS)),"
	@echo "           BENCH_FLAGS (e.g. -benchtime=1x -count=6)"

.PHONY: build
build: ## Build the collector ./bin/otelcol-dockerlogs with ocb (builder-config.yaml)
	@bash scripts/build-collector.sh

.PHONY: run
run: build ## Build, then run the collector with config.yaml (RUN_CONFIG=...)
	./$(COLLECTOR) --config $(RUN_CONFIG)

.PHONY: test
test: ## All tests: race-enabled go test ./... (Docker needed) + a short fuzz pass
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@$(MAKE) fuzz-run FUZZ_FOR=$(FUZZTIME_SHORT)

.PHONY: unit
unit: ## Fast tests: go test -short ./... (tests that need Docker skip under -short)
	$(GO) test -short -count=1 ./...

.PHONY: fuzz
fuzz: ## Fuzz each of FUZZ_TARGETS for FUZZTIME (default 60s)
	@$(MAKE) fuzz-run FUZZ_FOR=$(FUZZTIME)

# fuzz-run runs every FUZZ_TARGETS entry for FUZZ_FOR. Not listed in help.
.PHONY: fuzz-run
fuzz-run:
	@for t in $(FUZZ_TARGETS); do \
	  pkg="$${t%%:*}"; name="$${t##*:}"; \
	  if [[ "$$pkg" == "$$t" || -z "$$name" ]]; then \
	    echo "error: FUZZ_TARGETS entry '$$t' is not pkg:FuzzName" >&2; exit 1; \
	  fi; \
	  if [[ ! -d "$$pkg" ]]; then \
	    echo "warning: fuzz target $$name skipped: package ./$$pkg does not exist" >&2; continue; \
	  fi; \
	  if ! list="$$($(GO) test -list "^$$name\$$" "./$$pkg" 2>&1)"; then \
	    echo "$$list" >&2; echo "error: 'go test -list' failed for ./$$pkg" >&2; exit 1; \
	  fi; \
	  if ! grep -qx "$$name" <<<"$$list"; then \
	    echo "warning: fuzz target $$name skipped: not found in ./$$pkg" >&2; continue; \
	  fi; \
	  echo "--- fuzz ./$$pkg $$name for $(FUZZ_FOR)"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZ_FOR) "./$$pkg"; \
	done

.PHONY: bench
bench: ## Go benchmarks (BENCH_PKGS), then the end-to-end comparison against the real engine (scripts/bench/run.sh)
	$(GO) test -run='^$$' -bench=. -benchmem $(BENCH_FLAGS) $(BENCH_PKGS)
	@# End to end against the real Docker Engine: builds both collectors, then
	@# docker logs vs this receiver vs filelog, reopen cost, quiet containers
	@# (scripts/bench/run.sh documents its BENCH_* variables; docs/benchmarks.md the results).
	bash scripts/bench/run.sh

.PHONY: measure-exited
measure-exited: ## What exited containers cost: 2,000 of them (EXITED=N), goroutines, RSS, startup reconciliation, inspects
	DLR_EXITED_CONTAINERS=$(EXITED) $(GO) test -count=1 -timeout 40m -run '^TestLifecycleManyExitedContainers$$' -v ./receiver/

.PHONY: generate
generate: ## Regenerate mdatagen output from metadata.yaml (mdatagen pinned in internal/tools)
	@# mdatagen names the generated test package after the directory's basename,
	@# so it runs through a symlink called dockerlogsrotating whatever the clone is called.
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	  ln -s "$(CURDIR)" "$$tmp/dockerlogsrotating"; \
	  cd "$$tmp/dockerlogsrotating" && $(GO) tool -modfile=internal/tools/go.mod mdatagen metadata.yaml
	@files="$$(find . \( -path ./.git -o -path ./.build -o -path ./.tools -o -path ./bin \) -prune -o -name 'generated_*.go' -print | xargs -r gofmt -l)"; \
	  if [[ -n "$$files" ]]; then echo "gofmt -w:" $$files; gofmt -w $$files; fi

.PHONY: lint
lint: ## gofmt (must be clean), go vet, go mod tidy -diff (root and tools module), no product import of internal/testing; reports all
	@fail=0; \
	  files="$$(gofmt -l $(GO_FILES))"; \
	  if [[ -n "$$files" ]]; then echo "gofmt needed on:"; echo "$$files"; fail=1; fi; \
	  echo "go vet ./..."; $(GO) vet ./... || fail=1; \
	  echo "go mod tidy -diff"; $(GO) mod tidy -diff || fail=1; \
	  echo "go mod tidy -diff (internal/tools)"; (cd internal/tools && $(GO) mod tidy -diff) || fail=1; \
	  echo "scripts/check-test-imports.sh"; GO=$(GO) bash scripts/check-test-imports.sh || fail=1; \
	  if [[ "$$fail" != 0 ]]; then echo "lint: FAILED" >&2; exit 1; fi; echo "lint: ok"

.PHONY: clean
clean: ## Remove build outputs (bin/, .build/); `make distclean` also removes .tools/
	rm -rf bin .build

.PHONY: distclean
distclean: clean ## clean, and remove the installed ocb (.tools/)
	rm -rf .tools
