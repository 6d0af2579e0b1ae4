# deskphone: SIP desk-phone firmware. `make run` shows a phone working,
# `make test` runs the fast test tier. Slower tiers have their own targets
# (see mk/*.mk) that .ci/run also calls.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
export GOFLAGS ?= -mod=mod
GO ?= go
BIN := bin
PKG := github.com/deskphone/phone
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X $(PKG)/firmware/version.Version=$(VERSION)

.PHONY: all deps build run test vet fmt-check cross bench fuzz clean

all: build

# deps: Go modules (the only thing the fast tier and the demo need).
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required: install Go 1.26 at /usr/local/go"; exit 1; }
	$(GO) mod download

build: deps
	$(GO) build -o $(BIN)/ ./firmware/cmd/phoned ./tools/cmd/pbx

# run: start the local PBX and a phone on the sim board, register, call the
# echo extension, print status every second for ~10 s, hang up, exit 0.
run: build
	./scripts/demo.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# test: the fast tier: formatting, vet, and every package's tests with the
# race detector (scripts/gotest-race.sh: one retry of a package only when
# the race runtime itself crashed, golang/go#78156).
test: deps fmt-check vet
	GO=$(GO) scripts/gotest-race.sh ./...

# cross: phoned for the Pi 3/4/5 (arm64), Pi 2/3 32-bit (armv7) and the
# Pi Zero/1 (armv6), without cgo.
cross: deps
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/phoned ./firmware/cmd/phoned
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv7/phoned ./firmware/cmd/phoned
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv6/phoned ./firmware/cmd/phoned
	@ls -l $(BIN)/linux-*/phoned

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz: a short run of every fuzz target (FUZZTIME each).
FUZZTIME ?= 20s
fuzz: deps
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

clean:
	rm -rf $(BIN)

# Targets of later tiers (hardware cross builds, image, lab) live here.
-include mk/*.mk
