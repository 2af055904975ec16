# Covergate — every developer and CI entry point. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
TOOL      := $(GO) tool -modfile=tools/go.mod
BUF       := $(TOOL) buf
BIN       := bin/covergate
GOFLAGS_TEST ?= -race -count=1
DESCRIPTORS := $(shell mktemp -u /tmp/covergate-descriptors.XXXXXX).binpb

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: third_party
third_party: ## Fetch third-party protos from pinned Go modules into third_party/ (git-ignored).
	@tools/scripts/fetch-protos.sh

.PHONY: generate
generate: third_party ## Regenerate gen/ (Go, grpc-gateway, OpenAPI v2 and 3.1) from proto/.
	$(BUF) format -w proto
	$(BUF) generate
	$(BUF) build -o $(DESCRIPTORS)
	cd tools && $(GO) run ./openapimerge -v3-parts ../gen/openapiv3 -v2 ../gen/openapiv2/covergate.swagger.json -out ../gen/openapi -descriptors $(DESCRIPTORS)
	@rm -f $(DESCRIPTORS)

.PHONY: check-generate
check-generate: generate ## Fail if gen/ or proto formatting differs from what is committed.
	@if [ -n "$$(git status --porcelain -- gen proto)" ]; then \
	  echo "generated code is stale: run 'make generate' and commit the result"; \
	  git status --porcelain -- gen proto; git diff --stat -- gen proto; exit 1; fi

.PHONY: lint
lint: third_party ## buf lint, buf format check, gofmt, go vet, staticcheck and go mod tidy (both modules).
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/') 2>/dev/null); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags reliability ./reliability/...
	cd tools && $(GO) vet ./...
	$(TOOL) staticcheck ./...
	$(TOOL) staticcheck -tags reliability ./reliability/...
	cd tools && $(GO) tool staticcheck ./...
	$(GO) mod tidy -diff
	cd tools && $(GO) mod tidy -diff

.PHONY: breaking
breaking: third_party ## buf breaking (WIRE_JSON) against the last released contract (tools/contract/released.binpb).
	@tools/scripts/breaking.sh

.PHONY: release-contract
release-contract: third_party ## Record today's proto/ as the released contract that `make breaking` compares with.
	$(BUF) build proto --exclude-source-info -o tools/contract/released.binpb

.PHONY: check-docs
check-docs: ## Fail if README's list of what CI runs, or the revision the reports name, has drifted.
	@tools/scripts/check-docs.sh

.PHONY: build
build: ## Build bin/covergate.
	$(GO) build -trimpath -o $(BIN) ./cmd/covergate

.PHONY: run
run: build ## Run the gateway: SQLite + embedded partner sandbox, dev API key 'covergate-dev-key' with all scopes.
	COVERGATE_API_KEYS="$${COVERGATE_API_KEYS:-covergate-dev-key:*}" ./$(BIN) serve

.PHONY: prereqs
prereqs: ## Install or start what the tests need: PostgreSQL on 127.0.0.1:5432 and Chromium (apt-get as root).
	@tools/scripts/prereqs.sh test

.PHONY: test
test: prereqs ## Run every test (starts PostgreSQL and installs Chromium first when missing).
	$(GO) test $(GOFLAGS_TEST) ./...
	cd tools && $(GO) test -count=1 ./...

.PHONY: clients
clients: third_party ## Regenerate the TypeScript and Python clients' generated code in clients/.
	@tools/scripts/prereqs.sh clients
	@tools/scripts/clients-generate.sh

.PHONY: check-clients
check-clients: clients ## Fail if clients/ differs from what is committed (like check-generate).
	@if [ -n "$$(git status --porcelain -- clients)" ]; then \
	  echo "generated client code is stale: run 'make clients' and commit the result"; \
	  git status --porcelain -- clients; git diff --stat -- clients; exit 1; fi

.PHONY: test-clients
test-clients: build ## Run the TypeScript and Python client tests against a live gateway.
	@tools/scripts/prereqs.sh clients
	@tools/scripts/clients-test.sh

.PHONY: bench
bench: build ## Measure speed and footprint: prints the table, writes docs/performance.md (needs PostgreSQL; < 10 min).
	@tools/scripts/prereqs.sh postgres
	$(GO) build -trimpath -o bin/covergate-bench ./bench/cmd/covergate-bench
	./bin/covergate-bench -gateway $(BIN) -out docs/performance.md -profiles bin/profiles

.PHONY: bench-smoke
bench-smoke: build ## Benchmark suite with tiny sizes, writes nothing (proves the suite still works; < 1 min).
	@tools/scripts/prereqs.sh postgres
	$(GO) build -trimpath -o bin/covergate-bench ./bench/cmd/covergate-bench
	./bin/covergate-bench -gateway $(BIN) -out '' -runs 1 -policies 1000 -requests 1000 -events 300 -open-seconds 1 -publications 500 -outbox-runs 1 -starts 1 -settle 1s -profile 1s

.PHONY: bench-micro
bench-micro: ## Run the go test -bench micro-benchmarks of the packages.
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: reliability
reliability: build ## Full reliability suite: crash (2x SIGKILL, SQLite + PostgreSQL), partner outage, slow partner, hostile inputs, 2-min soak, every fuzz target for FUZZTIME (30s); prints the figures.
	@tools/scripts/prereqs.sh postgres
	RELIABILITY_DOC=docs/reliability.md COVERGATE_BIN=$(abspath $(BIN)) reliability/run.sh full

.PHONY: reliability-ci
reliability-ci: build ## Reduced reliability suite for CI (< 5 min): 1,500-event crashes, 45 s soak, 6 fuzz targets x 20 s.
	@tools/scripts/prereqs.sh postgres
	COVERGATE_BIN=$(abspath $(BIN)) reliability/run.sh ci

.PHONY: fuzz
fuzz: ## Every fuzz target for FUZZTIME each (default 20s; FUZZ_SET=ci for the CI subset).
	reliability/fuzz.sh

.PHONY: ci
ci: check-generate check-clients lint breaking check-docs test test-clients reliability-ci bench-smoke ## Everything CI runs.
