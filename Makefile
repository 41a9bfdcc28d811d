# edgeinfer developer entry points. `make setup` installs everything the
# engine needs under $(EDGEINFER_HOME); `make test` is what CI runs.

EDGEINFER_HOME ?= $(HOME)/.edgeinfer
export EDGEINFER_HOME

GO ?= go
BIN := bin/edgeinfer

# Compat tier (compat/, Workers AI client compatibility through node) -------
# The issue that adds compat/ sets COMPAT_TEST to the command running it,
# e.g. `COMPAT_TEST = compat/run`; `make test` runs it after the Go tests.
COMPAT_TEST ?=
# ----------------------------------------------------------------------------

.PHONY: setup build run test fmt fmt-check vet synth-full clean

setup:
	scripts/setup.sh

build:
	$(GO) build -o $(BIN) ./cmd/edgeinfer

run: setup
	$(BIN) serve

test: setup vet fmt-check
	$(GO) test -race -count=1 ./...
ifneq ($(strip $(COMPAT_TEST)),)
	$(COMPAT_TEST)
else
	@echo "compat tier: not added yet (set COMPAT_TEST in the Makefile)"
endif

fmt:
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

# Fails listing every Go file gofmt would change.
fmt-check:
	@files=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

synth-full: build
	$(BIN) models synth --preset full --out "$(EDGEINFER_HOME)/models"

clean:
	rm -rf bin
