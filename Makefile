# deskphone: SIP desk-phone firmware. `make run` shows a phone working,
# `make test` runs the fast test tier. Slower tiers have their own targets
# (see mk/*.mk) that .ci/run also calls.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
# Builds never rewrite go.mod or go.sum (`make deps` downloads what they
# list; `go mod tidy` is the one command that changes them, and
# `make tidy-check` says when it is needed).
export GOFLAGS ?= -mod=readonly
GO ?= go
BIN := bin
PKG := github.com/deskphone/phone
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Every phoned build is made with the sysmonsleep tag and the linker flag
# it needs: hal/wake/sysmon reaches one runtime variable through
# //go:linkname, which the linker refuses without -checklinkname=0, so
# that an idle phone sleeps through the runtime's once-a-minute look
# (issue 19, docs/performance.md). A build without them works; its
# phone keeps the runtime's minute and says so in its log.
PHONED_TAGS := sysmonsleep
LINKNAME := -checklinkname=0
LDFLAGS := -s -w -X $(PKG)/firmware/version.Version=$(VERSION)

.PHONY: all deps build run test vet fmt-check tidy-check staticcheck cross bench fuzz clean

# Shared definitions (Debian package installs, private apt fetches, cross
# builds) first; every other mk/*.mk is a tier's targets.
include mk/common.mk

all: build

# deps: Go modules (the only thing the fast tier and the demo need).
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required: install Go 1.26 at /usr/local/go"; exit 1; }
	$(GO) mod download

# build: the status document and the SIP User-Agent name the version
# (git describe), as the image's build does.
build: deps
	$(GO) build -tags '$(PHONED_TAGS)' -ldflags '-X $(PKG)/firmware/version.Version=$(VERSION) $(LINKNAME)' -o $(BIN)/ ./firmware/cmd/phoned ./tools/cmd/pbx

# run: start the local PBX and a phone on the sim board, register, call the
# echo extension, print status every second for ~10 s, hang up, exit 0.
run: build
	./scripts/demo.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags '$(PHONED_TAGS)' ./hal/wake/sysmon ./firmware/cmd/phoned

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# tidy-check: go.mod and go.sum are what `go mod tidy` makes of them.
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# staticcheck at a pinned version (v0.8.2 is staticcheck 2026.2.2, which
# knows Go 1.26), installed into bin/tools from the module proxy.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/tools/staticcheck-$(STATICCHECK_VERSION)
$(STATICCHECK):
	@mkdir -p $(BIN)/tools
	GOBIN=$(CURDIR)/$(BIN)/tools/install $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/tools/install/staticcheck $@
staticcheck: deps $(STATICCHECK)
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags '$(PHONED_TAGS)' ./hal/wake/sysmon ./firmware/cmd/phoned

# test: the fast tier: formatting, tidy go.mod, vet, staticcheck, and every
# package's tests with the race detector (scripts/gotest-race.sh: one
# retry of a package only when the race runtime itself crashed,
# golang/go#78156); then one line per slow tier (.ci/tiers) it did not
# run, with the make target that runs it.
test: deps fmt-check tidy-check vet staticcheck
	GO=$(GO) scripts/gotest-race.sh ./...
	$(GO) test -race -count=1 -tags '$(PHONED_TAGS)' -ldflags '$(LINKNAME)' ./hal/wake/sysmon
	@scripts/slow-tiers.sh .ci/tiers

# cross: phoned for the Pi 3/4/5 (arm64), Pi 2/3 32-bit (armv7) and the
# Pi Zero/1 (armv6), without cgo.
cross: deps
	$(call go_cross,arm64,,$(LDFLAGS),$(BIN)/linux-arm64/phoned,./firmware/cmd/phoned)
	$(call go_cross,arm,7,$(LDFLAGS),$(BIN)/linux-armv7/phoned,./firmware/cmd/phoned)
	$(call go_cross,arm,6,$(LDFLAGS),$(BIN)/linux-armv6/phoned,./firmware/cmd/phoned)
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

# The slow tiers' targets (hardware cross builds, image, emulated phone,
# network lab), one mk/<tier>.mk each; .ci/tiers lists the ones CI runs.
-include $(filter-out mk/common.mk,$(wildcard mk/*.mk))
