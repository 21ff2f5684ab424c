# chatserver: build, run and test.
#
#   make build   the binary ./chatserver
#   make run     go run . serve (pass flags with ARGS="--addr :9000")
#   make test    install what the tests need, then gofmt, go vet, go test -race
#
# Test dependencies are installed by `deps`; each kind has its own target so
# later ones (redis-server, chromium from Debian's packages) slot in beside
# node-deps.

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

.PHONY: all build run test deps system-deps node-deps fmt-check vet go-test clean

all: build

build:
	$(GO) build -o chatserver .

run:
	$(GO) run . serve $(ARGS)

test: deps fmt-check vet go-test

deps: system-deps node-deps

# Programs from Debian's packages that the tests need, installed only when
# missing (CI runs as root).
system-deps:
	@command -v node >/dev/null && command -v $(NPM) >/dev/null || { \
		echo "installing nodejs and npm"; \
		apt-get update && apt-get install -y nodejs npm; }

node-deps: $(NODE_STAMP)

# Reinstalled when the lock file changes or node_modules is missing.
$(NODE_STAMP): $(NODE_SRC)/package.json $(NODE_SRC)/package-lock.json $(NODE_SRC)/.npmrc
	@if [ "$(abspath $(NODE_PREFIX))" != "$(abspath $(NODE_SRC))" ]; then \
		mkdir -p "$(NODE_PREFIX)" && \
		cp $(NODE_SRC)/package.json $(NODE_SRC)/package-lock.json $(NODE_SRC)/.npmrc "$(NODE_PREFIX)/"; \
	fi
	$(NPM) ci --prefix "$(NODE_PREFIX)" --no-audit --no-fund
	touch "$@"

fmt-check:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path '*/node_modules/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

go-test:
	NODE_PATH="$(NODE_MODULES)" $(GO) test -race ./...

clean:
	rm -f chatserver
	rm -rf $(NODE_SRC)/node_modules
