# Lean tier (tools/lab/lean, issue 19): phoned and baresip side by side
# through tools/pbx on loopback, interleaved runs, each phone calling the
# PBX's tone service; reports CPU per call (/proc/PID/stat), RSS, RssAnon
# and Pss in a call, context switches per idle minute and 200 OK -> first
# RTP (an AF_PACKET capture on lo: run as root). A report, not a timed
# test: it fails only when a phone cannot register or call. Bounded: at
# most 8 runs of at most 60 s calls (defaults: 3 runs, 20 s calls, 12 s
# idle windows, about 4 minutes; LEAN_BASE adds a third phone, half as
# long again).
#
#   make bench-lean   install baresip if missing, build, run the tier;
#                     the table goes to $(BIN)/lean-report.md
#   make test-lean    the same, as .ci/run's tier, with a 4-minute quiet
#                     window (every phone idle at once, registrations of
#                     120 s, so that it holds two or three refreshes of
#                     each: the short idle windows seldom hold one)
#   make bench-pressure LEAN_BASE=<dir>
#                     this build and the baseline phoned idle side by side,
#                     each in a memory cgroup squeezed once a minute:
#                     switches, reads from storage and VmRSS a minute
#                     (tools/lab/lean/pressure.sh; root; about 7 minutes)

.PHONY: bench-lean test-lean lean-tools lean-build bench-pressure

LEAN_RUNS ?= 3
LEAN_CALL ?= 20s
LEAN_IDLE ?= 12s
LEAN_SERVICE ?= tone
# Go runtime settings for phoned, e.g. "GOMAXPROCS=1 GOGC=50" (a
# single-core board such as the Pi Zero runs with GOMAXPROCS=1).
LEAN_ENV ?=
# A directory with a baseline phoned (e.g. built from main) to run
# interleaved with the one under test; empty runs none.
LEAN_BASE ?=
# Calls each phone holds at once (1..4; the earlier ones held): the
# 4-call load is LEAN_CALLS=4. LEAN_PORTS moves the tier's ports up by
# a multiple of 1000, so that two runs on one host do not meet.
LEAN_CALLS ?= 1
LEAN_PORTS ?= 0
# LEAN_QUIET: after the runs, every phone idle at once this long (up to
# 20m; 0 for none), counting context switches and REGISTERs: the honest
# wake-ups per idle minute, refreshes included. It opens a minute after
# the last call; the call's tail before it (5 s to 60 s after the
# hangup) is counted and reported apart. LEAN_EXPIRES: every
# phone's registration expiry (phoned refreshes at 85 % or 30 s before,
# baresip at 90 %). A long look: LEAN_QUIET=10m (about two refreshes
# each at 300 s).
LEAN_QUIET ?= 0
LEAN_EXPIRES ?= 300s
LEAN_VARS = DESKPHONE_LEAN_RUNS=$(LEAN_RUNS) DESKPHONE_LEAN_CALL=$(LEAN_CALL) DESKPHONE_LEAN_IDLE=$(LEAN_IDLE) DESKPHONE_LEAN_SERVICE=$(LEAN_SERVICE) \
	DESKPHONE_LEAN_ENV="$(LEAN_ENV)" DESKPHONE_LEAN_BASE=$(LEAN_BASE) DESKPHONE_LEAN_CALLS=$(LEAN_CALLS) DESKPHONE_LEAN_PORTS=$(LEAN_PORTS) \
	DESKPHONE_LEAN_QUIET=$(LEAN_QUIET) DESKPHONE_LEAN_EXPIRES=$(LEAN_EXPIRES)

lean-tools:
	$(call apt_install,baresip)

# The phoned measured is built as a device image's is (static, stripped:
# the flags `make cross` uses), so its file-backed pages are what ships.
lean-build: deps
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(PHONED_TAGS)' -ldflags "$(LDFLAGS) $(LINKNAME)" -o $(BIN)/lean/ ./firmware/cmd/phoned ./tools/cmd/pbx

bench-lean: lean-tools lean-build
	DESKPHONE_TIER=lean DESKPHONE_LEAN_BIN=$(CURDIR)/$(BIN)/lean DESKPHONE_LEAN_OUT=$(CURDIR)/$(BIN)/lean-report.md $(LEAN_VARS) \
	  $(GO) test -count=1 -v -timeout 35m ./tools/lab/lean/

test-lean: LEAN_QUIET = 4m
test-lean: LEAN_EXPIRES = 120s
test-lean: bench-lean

bench-pressure: lean-build
	@test -n "$(LEAN_BASE)" || { echo "bench-pressure: LEAN_BASE=<dir with a baseline phoned>" >&2; exit 2; }
	MIN=6 bash tools/lab/lean/pressure.sh $(CURDIR)/$(BIN)/lean $(LEAN_BASE)

# make bench-lean-arm64: the same tier with phoned and baresip both built
# for arm64 and run under qemu-aarch64-static, as a proxy for a Pi's
# relative costs (QEMU user mode translates the instructions and runs
# the system calls on the host: read the ratios, not the times; RSS
# includes QEMU's own). baresip is Debian's arm64 build, fetched with an
# apt state of its own and unpacked with dpkg -x into
# $(BIN)/lean-arm64/sysroot, never installed. LEAN_BASE works as above
# with a directory whose phoned is such a wrapper.
LEAN_ARM64 := $(CURDIR)/$(BIN)/lean-arm64

.PHONY: bench-lean-arm64
bench-lean-arm64: lean-tools lean-build
	$(call apt_install,qemu-user-static)
	@set -e; root=$(LEAN_ARM64)/sysroot; mkdir -p $(LEAN_ARM64); \
	if [ ! -x $$root/usr/bin/baresip ]; then \
	  rm -rf $$root; mkdir -p $$root; \
	  $(call private_apt,$(LEAN_ARM64)/apt,arm64); \
	  $(call private_apt_download,baresip-core libre0 librem0 libc6 libssl3 zlib1g) || { echo "lean-arm64: cannot download baresip"; exit 1; }; \
	  for d in $$apt/debs/*.deb; do dpkg -x $$d $$root; done; \
	fi; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags '$(PHONED_TAGS)' -ldflags "$(LDFLAGS) $(LINKNAME)" -o $(LEAN_ARM64)/phoned.arm64 ./firmware/cmd/phoned; \
	cp $(BIN)/lean/pbx $(LEAN_ARM64)/pbx; \
	printf '#!/bin/sh\nexec qemu-aarch64-static %s "$$@"\n' $(LEAN_ARM64)/phoned.arm64 > $(LEAN_ARM64)/phoned; \
	printf '#!/bin/sh\nexec qemu-aarch64-static -L %s %s/usr/bin/baresip "$$@"\n' $$root $$root > $(LEAN_ARM64)/baresip; \
	chmod +x $(LEAN_ARM64)/phoned $(LEAN_ARM64)/baresip
	DESKPHONE_TIER=lean DESKPHONE_LEAN_BIN=$(LEAN_ARM64) DESKPHONE_LEAN_BARESIP=$(LEAN_ARM64)/baresip DESKPHONE_LEAN_OUT=$(CURDIR)/$(BIN)/lean-arm64-report.md $(LEAN_VARS) \
	  $(GO) test -count=1 -v -timeout 40m ./tools/lab/lean/
