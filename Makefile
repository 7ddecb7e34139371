# kbv3: build, test and demo. `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO        ?= go
VERSION   ?= $(shell awk '/^version:/ {print $$2}' galaxy.yml 2>/dev/null || echo 0.0.0)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X github.com/keybuzz/kbv3/internal/version.Version=$(VERSION) -X github.com/keybuzz/kbv3/internal/version.Commit=$(COMMIT)
GOBUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# The controller platforms the collection ships; `make build` builds GOOS/GOARCH (this machine's).
PLATFORMS := linux/amd64 linux/arm64 darwin/arm64 darwin/amd64
PLATFORM_DIR := plugins/modules/__platforms
GOHOSTOS   := $(shell $(GO) env GOHOSTOS)
GOHOSTARCH := $(shell $(GO) env GOHOSTARCH)
GOOS      ?= $(GOHOSTOS)
GOARCH    ?= $(GOHOSTARCH)
TOOLS     := $(CURDIR)/bin/tools
STATICCHECK_VERSION ?= v0.8.2

# Debian packages the tests and the demo need, by the command each provides.
APT_PACKAGES := ansible-core:ansible-playbook ansible:ansible-community hcloud-cli:hcloud \
                python3-hcloud:/usr/lib/python3/dist-packages/hcloud yamllint:yamllint ansible-lint:ansible-lint jq:jq \
                qemu-user-static:qemu-aarch64-static

.PHONY: build collection-link modules platforms sim-release sim deps test unit lint vet staticcheck demo bench soak collection clean fmt fuzz reliability-doc

build: modules sim collection-link

# ansible.cfg points collections_path at .build/collections, where the checkout is keybuzz.infra.
# playbooks/collections makes the checkout's playbooks find it from any directory (Ansible looks
# for collections beside the playbook), so that they run without this ansible.cfg.
collection-link:
	@mkdir -p .build/collections/ansible_collections/keybuzz playbooks/collections/ansible_collections/keybuzz
	@ln -sfn ../../../.. .build/collections/ansible_collections/keybuzz/infra
	@ln -sfn ../../../.. playbooks/collections/ansible_collections/keybuzz/infra

# The six modules are one multi-call binary per platform, plugins/modules/__platforms/<goos>_<goarch>,
# behind six text stubs that the action plugin keybuzz.infra.kbv3_platform runs it for
# (docs/ARCHITECTURE.md says why). `make build` builds this machine's (or GOOS/GOARCH's);
# `make platforms` the four the collection ships; modules/<name> still build alone.
modules:
	@mkdir -p $(PLATFORM_DIR)
	GOOS=$(GOOS) GOARCH=$(GOARCH) $(GOBUILD) -o $(PLATFORM_DIR)/$(GOOS)_$(GOARCH) ./cmd/kbv3-modules

platforms:
	@mkdir -p $(PLATFORM_DIR)
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; echo "kbv3-modules $$os/$$arch"; \
	  GOOS=$$os GOARCH=$$arch $(GOBUILD) -o $(PLATFORM_DIR)/$${os}_$$arch ./cmd/kbv3-modules || exit 1; done
	@for f in $(PLATFORM_DIR)/*; do case " $(subst /,_,$(PLATFORMS)) " in *" $${f##*/} "*) ;; *) echo "removing $$f"; rm -f "$$f";; esac; done

# sim-release: hcloud-sim for the four platforms, beside the tarball in dist/ (with SHA256SUMS), for
# collection users who rehearse without a checkout.
sim-release:
	@mkdir -p dist
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; echo "hcloud-sim $$os/$$arch"; \
	  GOOS=$$os GOARCH=$$arch $(GOBUILD) -o dist/hcloud-sim-$(VERSION)-$$os-$$arch ./cmd/hcloud-sim || exit 1; done
	@cd dist && sha256sum hcloud-sim-$(VERSION)-* > hcloud-sim-$(VERSION).SHA256SUMS

sim:
	@mkdir -p bin
	GOOS=$(GOHOSTOS) GOARCH=$(GOHOSTARCH) $(GOBUILD) -o bin/hcloud-sim ./cmd/hcloud-sim

# deps installs what is missing: Debian packages with apt when root, else it says what to install.
deps:
	@missing=""; for pc in $(APT_PACKAGES); do pkg=$${pc%%:*}; cmd=$${pc#*:}; \
	  if [ "$${cmd#/}" != "$$cmd" ]; then [ -e "$$cmd" ] || missing="$$missing $$pkg"; \
	  else command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; fi; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; fi; fi
	@[ -x $(TOOLS)/staticcheck ] || GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

vet:
	$(GO) vet ./...

staticcheck: deps
	$(TOOLS)/staticcheck ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }

lint: deps
	yamllint -s playbooks/ meta/ galaxy.yml plugins/modules/ plugins/filter/ ansible/ servers/
	ansible-lint playbooks/

unit:
	$(GO) test -race -count=1 -timeout 75m ./...

test: deps build platforms modern-ansible fmt vet staticcheck lint unit fuzz

# fuzz runs each fuzz target on its own (go test allows one -fuzz target per invocation), for a
# number of inputs, not a duration: with a duration, Go 1.26's fuzz coordinator can report
# "context deadline exceeded" as a failure when the time runs out mid-input, without any failing
# input (golang/go#75804, fixed in Go 1.27). 60000 inputs take about 5 s here; -timeout bounds it.
FUZZTIME ?= 60000x
FUZZ_TARGETS := ./internal/ansible:FuzzDecodeOptions ./internal/plan:FuzzParse ./internal/plan:FuzzParseDiff
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; \
	  echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s -timeout 5m $$pkg || exit 1; done

# soak: SIGKILL the reset playbook at SOAK_KILLS seeded random moments, rerun after each, check the
# fleet every time (cmd/kbv3-soak), then fuzz each target for a minute.
SOAK_KILLS ?= 12
SOAK_SEED  ?= 1
soak: deps build
	$(GO) run ./cmd/kbv3-soak -kills $(SOAK_KILLS) -seed $(SOAK_SEED)
	$(MAKE) fuzz FUZZTIME=60s

# reliability-doc: run the fault matrix, recording its results, and render docs/RELIABILITY.md.
reliability-doc: deps build
	@rm -f .build/reliability.json
	KBV3_RELIABILITY_JSON=$(CURDIR)/.build/reliability.json $(GO) test -count=1 -timeout 45m -run 'TestReliabilityFaultMatrix' ./tests/
	$(GO) run ./cmd/kbv3-soak -render-doc .build/reliability.json -o docs/RELIABILITY.md

# modern-ansible: Debian trixie's ansible-core 2.19 and ansible 12 (hetzner.hcloud 5.x) unpacked into
# .cache/modern-ansible, beside the system's ansible, for tests/modern_*_test.go
# (scripts/modern-ansible.sh says how). Exported so that `go test ./tests/` under make finds it.
MODERN_ANSIBLE := $(CURDIR)/.cache/modern-ansible
export KBV3_MODERN_ANSIBLE ?= $(MODERN_ANSIBLE)
.PHONY: modern-ansible modern
modern-ansible:
	@bash scripts/modern-ansible.sh $(MODERN_ANSIBLE)

# modern: only the tests on the modern toolchain.
modern: deps build modern-ansible
	$(GO) test -count=1 -run 'TestModern' ./tests/

# e2e: the end-to-end tests of the playbooks against hcloud-sim (tests/e2e_*_test.go; part of unit too).
.PHONY: e2e
e2e: deps build
	$(GO) test -count=1 -run 'TestE2E' ./tests/

# collection: the Galaxy tarball with the module binaries of the four platforms (Go sources are
# excluded by galaxy.yml), and hcloud-sim's binaries beside it (sim-release).
collection: build platforms sim-release
	@mkdir -p dist
	ansible-galaxy collection build --force --output-path dist .
	@ls -l dist/keybuzz-infra-$(VERSION).tar.gz

# demo: the reset of the report's fleet against hcloud-sim, checked with the hcloud CLI.
demo: deps build
	bash scripts/demo.sh

# bench: docs/BENCHMARKS.md. The PH3-02 reset on hcloud-sim six ways (kbv3; hetzner.hcloud 1.11 from
# Debian's ansible package and 5.x from the modern toolchain, each as async batches and as serial
# host batches; the hcloud CLI loop), then the no-op rerun, --check, a create with server, module
# start-up, generated fleets of 500 and 2000 under the rate limit (the 2000 at a third of real
# time) and the simulator's throughput (cmd/kbv3-bench; BENCH_FLAGS=-h lists options). The 5.x
# ways need the modern toolchain (KBV3_MODERN_ANSIBLE, exported above).
BENCH_FLAGS ?=
bench: deps build modern-ansible
	$(GO) run ./cmd/kbv3-bench $(BENCH_FLAGS)

clean:
	rm -rf bin dist .build $(PLATFORM_DIR)
