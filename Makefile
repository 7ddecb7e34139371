# kbv3: build, test and demo. `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO        ?= go
VERSION   ?= $(shell awk '/^version:/ {print $$2}' galaxy.yml 2>/dev/null || echo 0.0.0)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X github.com/keybuzz/kbv3/internal/version.Version=$(VERSION) -X github.com/keybuzz/kbv3/internal/version.Commit=$(COMMIT)
GOBUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
MODULES   := $(notdir $(wildcard modules/*))
TOOLS     := $(CURDIR)/bin/tools
STATICCHECK_VERSION ?= v0.8.2

# Debian packages the tests and the demo need, by the command each provides.
APT_PACKAGES := ansible-core:ansible-playbook ansible:ansible-community hcloud-cli:hcloud \
                python3-hcloud:/usr/lib/python3/dist-packages/hcloud yamllint:yamllint ansible-lint:ansible-lint

.PHONY: build collection-link modules sim deps test unit lint vet staticcheck demo bench soak collection clean fmt

build: modules sim collection-link

# ansible.cfg points collections_path at .build/collections, where the checkout is keybuzz.infra.
collection-link:
	@mkdir -p .build/collections/ansible_collections/keybuzz
	@ln -sfn ../../../.. .build/collections/ansible_collections/keybuzz/infra

modules:
	@mkdir -p plugins/modules
	@for m in $(MODULES); do $(GOBUILD) -o plugins/modules/$$m ./modules/$$m || exit 1; done

sim:
	@mkdir -p bin
	$(GOBUILD) -o bin/hcloud-sim ./cmd/hcloud-sim

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
	yamllint -s playbooks/ meta/ galaxy.yml plugins/modules/ ansible/ servers/
	ansible-lint playbooks/

unit:
	$(GO) test -race -count=1 ./...

test: deps build fmt vet staticcheck lint unit

# collection: the Galaxy tarball (binaries for this controller; Go sources are excluded by galaxy.yml).
collection: build
	@mkdir -p dist
	ansible-galaxy collection build --force --output-path dist .
	@ls -l dist/keybuzz-infra-$(VERSION).tar.gz

# demo: the reset of the report's fleet against hcloud-sim, checked with the hcloud CLI.
demo: deps build
	bash scripts/demo.sh

clean:
	rm -rf bin dist .build $(addprefix plugins/modules/,$(MODULES))
