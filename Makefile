# chatserver: build, run and test.
#
#   make build   the binary ./chatserver
#   make run     go run . serve (pass flags with ARGS="--addr :9000")
#   make test    install what the tests need, then gofmt, go vet, go test -race,
#                every release target (make cross) and the official protocol
#                suites (make conformance)
#   make cross   build every release target into a temporary directory
#   make release the release archives and checksum file in dist/
#                (VERSION=1.2.0; the default is git describe)
#
# Test dependencies are installed by `deps`; each kind has its own target
# beside node-deps and browser-deps.

GO  ?= go
NPM ?= npm

# The end-to-end tests' npm packages (socket.io-client) are installed with
# `npm ci` into $(NODE_PREFIX)/node_modules and found through NODE_PATH.
# The default keeps them in the tree, ignored by git; set NODE_PREFIX to a
# directory outside it to keep the tree clean.
NODE_PREFIX  ?= e2e/node
NODE_SRC     := e2e/node
NODE_MODULES := $(abspath $(NODE_PREFIX))/node_modules
NODE_STAMP   := $(NODE_MODULES)/.chatserver-installed

# The Socket.IO v2 tests (e2e/eio3_test.go) drive socket.io-client 2.x,
# installed the same way from e2e/node2. Its driver loads the package from
# $(NODE2_MODULES) by absolute path (SIO2_NODE_MODULES), so NODE_PATH keeps
# finding the v4 one. When NODE_PREFIX is moved out of the tree, it goes
# beside it.
NODE2_SRC     := e2e/node2
NODE2_PREFIX  ?= $(if $(filter $(abspath $(NODE_SRC)),$(abspath $(NODE_PREFIX))),$(NODE2_SRC),$(NODE_PREFIX)-sio2)
NODE2_MODULES := $(abspath $(NODE2_PREFIX))/node_modules
NODE2_STAMP   := $(NODE2_MODULES)/.chatserver-installed

# The browser tests (e2e/browser_test.go) drive Debian's Chromium with the
# npm package playwright-core, installed the same way from e2e/browser. No
# browser is ever downloaded: playwright-core is pointed at $(CHROMIUM).
# When NODE_PREFIX is moved out of the tree, these go beside it.
BROWSER_SRC     := e2e/browser
BROWSER_PREFIX  ?= $(if $(filter $(abspath $(NODE_SRC)),$(abspath $(NODE_PREFIX))),$(BROWSER_SRC),$(NODE_PREFIX)-browser)
BROWSER_MODULES := $(abspath $(BROWSER_PREFIX))/node_modules
BROWSER_STAMP   := $(BROWSER_MODULES)/.chatserver-installed
CHROMIUM        := /usr/bin/chromium
# Fonts for the page's text and emoji, so that screenshots show no empty boxes.
BROWSER_FONTS   := fonts-dejavu-core fonts-noto-color-emoji

# The Python tests (e2e/python_test.go) drive the server with Debian's
# python-socketio 5.x client and the libraries of its two transports
# (requests for long-polling, websocket-client for WebSocket), run with
# Debian's /usr/bin/python3: a python3 earlier on PATH may not see them.
PYTHON_DEBS := python3-socketio python3-requests python3-websocket

# The official Engine.IO and Socket.IO protocol suites, run by
# scripts/conformance.sh against web/socketio/conformance: PROTOCOL_SUITES is
# a checkout of the official suites, a folder holding engine.io/ and
# socket.io/; ENGINEIO_SUITE and SOCKETIO_SUITE can instead point at the
# test-suite/ folders of clones of their repositories (docs/PROTOCOL.md). A
# suite whose folder is missing is skipped with a message, except when CI is
# set: then it fails. They need port 3000 free on localhost.
PROTOCOL_SUITES ?= ../shared/protocol-suites
ENGINEIO_SUITE  ?= $(PROTOCOL_SUITES)/engine.io
SOCKETIO_SUITE  ?= $(PROTOCOL_SUITES)/socket.io

.PHONY: all build run test deps system-deps node-deps node2-deps browser-deps browser-system-deps fmt-check vet go-test clean

all: build

build:
	$(GO) build -o chatserver .

run:
	$(GO) run . serve $(ARGS)

test: deps fmt-check vet cross go-test conformance

deps: system-deps node-deps node2-deps browser-deps python-deps release-deps completion-deps

# Programs from Debian's packages that the tests need, installed only when
# missing (CI runs as root): node and npm for the end-to-end drivers,
# redis-server, which the Redis store's tests start themselves
# (internal/redistest), never as a service, and nginx, which the
# multi-node test runs on its own port in front of the nodes
# (e2e/nginx_test.go). nginx, not nginx-light: on Debian 12 nginx-light is
# only a transitional package that pulls nginx in.
system-deps:
	@command -v node >/dev/null && command -v $(NPM) >/dev/null || { \
		echo "installing nodejs and npm"; \
		apt-get update && apt-get install -y nodejs npm; }
	@command -v redis-server >/dev/null || { \
		echo "installing redis-server"; \
		apt-get update && apt-get install -y redis-server; }
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
		echo "installing nginx"; \
		apt-get update && apt-get install -y nginx; }

node-deps: $(NODE_STAMP)

# Reinstalled when the lock file changes or node_modules is missing.
$(NODE_STAMP): $(NODE_SRC)/package.json $(NODE_SRC)/package-lock.json $(NODE_SRC)/.npmrc
	@if [ "$(abspath $(NODE_PREFIX))" != "$(abspath $(NODE_SRC))" ]; then \
		mkdir -p "$(NODE_PREFIX)" && \
		cp $(NODE_SRC)/package.json $(NODE_SRC)/package-lock.json $(NODE_SRC)/.npmrc "$(NODE_PREFIX)/"; \
	fi
	$(NPM) ci --prefix "$(NODE_PREFIX)" --no-audit --no-fund
	touch "$@"

node2-deps: $(NODE2_STAMP)

$(NODE2_STAMP): $(NODE2_SRC)/package.json $(NODE2_SRC)/package-lock.json $(NODE2_SRC)/.npmrc
	@if [ "$(abspath $(NODE2_PREFIX))" != "$(abspath $(NODE2_SRC))" ]; then \
		mkdir -p "$(NODE2_PREFIX)" && \
		cp $(NODE2_SRC)/package.json $(NODE2_SRC)/package-lock.json $(NODE2_SRC)/.npmrc "$(NODE2_PREFIX)/"; \
	fi
	$(NPM) ci --prefix "$(NODE2_PREFIX)" --no-audit --no-fund
	touch "$@"

browser-deps: browser-system-deps $(BROWSER_STAMP)

# Debian's chromium when $(CHROMIUM) is missing, and the fonts when they are.
browser-system-deps:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium"; \
	for p in $(BROWSER_FONTS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update && apt-get install -y $$missing; \
	fi

$(BROWSER_STAMP): $(BROWSER_SRC)/package.json $(BROWSER_SRC)/package-lock.json $(BROWSER_SRC)/.npmrc
	@if [ "$(abspath $(BROWSER_PREFIX))" != "$(abspath $(BROWSER_SRC))" ]; then \
		mkdir -p "$(BROWSER_PREFIX)" && \
		cp $(BROWSER_SRC)/package.json $(BROWSER_SRC)/package-lock.json $(BROWSER_SRC)/.npmrc "$(BROWSER_PREFIX)/"; \
	fi
	$(NPM) ci --prefix "$(BROWSER_PREFIX)" --no-audit --no-fund
	touch "$@"

.PHONY: python-deps conformance

# Debian's packages of $(PYTHON_DEBS) when any is missing.
python-deps:
	@missing=""; \
	for p in $(PYTHON_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update && apt-get install -y $$missing; \
	fi

# Both suites, one after the other on localhost:3000.
conformance: system-deps
	GO="$(GO)" NPM="$(NPM)" scripts/conformance.sh "$(ENGINEIO_SUITE)" "$(SOCKETIO_SUITE)"

fmt-check:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path '*/node_modules/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

go-test:
	NODE_PATH="$(NODE_MODULES):$(BROWSER_MODULES)" SIO2_NODE_MODULES="$(NODE2_MODULES)" $(GO) test -race ./...

# The release targets (scripts/build.sh: linux amd64, arm64, ARMv6 and
# ARMv7, darwin amd64 and arm64, windows amd64), static and stripped, as
# a release builds them. `cross` builds them all, in parallel, into a
# temporary directory and fails if the ARMv6 binary reaches 12 MB: it runs
# on every `make test`, so every target builds on every CI run.
.PHONY: cross release release-deps

cross:
	@out="$$(mktemp -d)" && trap 'rm -rf "$$out"' EXIT && GO="$(GO)" scripts/build.sh "$$out"

# VERSION is the release's (default: git describe, without the v); the
# archives and chatserver_VERSION_checksums.txt go to dist/, emptied first.
VERSION ?=
release: release-deps
	GO="$(GO)" VERSION="$(VERSION)" DIST=dist scripts/release.sh

# zip, for the Windows archive, from Debian's packages when missing.
release-deps:
	@command -v zip >/dev/null || { echo "installing zip"; apt-get update && apt-get install -y zip; }

# bash-completion, which the bash completion script builds on, for the
# test that completes command lines in bash (e2e/completion_test.go).
.PHONY: completion-deps
completion-deps:
	@[ -f /usr/share/bash-completion/bash_completion ] || { \
		echo "installing bash-completion"; apt-get update && apt-get install -y bash-completion; }

clean:
	rm -f chatserver
	rm -rf dist
	rm -rf $(NODE_SRC)/node_modules $(NODE2_SRC)/node_modules $(BROWSER_SRC)/node_modules
