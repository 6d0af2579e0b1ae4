# Network lab (tools/lab/natlab, tier "natlab"): real Linux NATs in network
# namespaces, Kamailio, coturn, phoned and baresip. Needs root; installs
# its Debian packages.
#
#   make test-lab    install the packages, build phoned, run the lab tests,
#                    write the results table to docs/nat-matrix.md
#   make lab-clean   remove leftover lab namespaces (names start with dpl-;
#                    with LAB_PREFIX=dpl-b- only that lab's)
#
# The target fails on infrastructure errors (a namespace, NAT recipe or
# server that cannot be set up) and on cells listed in
# tools/lab/natlab/mustpass.txt; other failing cells are findings written
# into the table. LAB_ONLY=<regexp> (cells to run), LAB_PCAP=1 (dumpcap
# every phone interface) and LAB_TALK=<duration> (longer calls) reach the
# test as DESKPHONE_NATLAB_ONLY, _PCAP and _TALK.

.PHONY: test-lab lab-clean lab-tools

# kamailio-presence-modules: busy lamps and message waiting (pbx17 cells);
# dnsmasq-base: dnsmasq without the Debian service that would start on the
# host (the pbx17 DNS cells run it in the server namespace);
# kamailio-tls-modules: SIP over TLS on 443 (fw443 cells).
LAB_PKGS := kamailio coturn baresip sip-tester iproute2 iptables nftables sox tshark conntrack \
  kamailio-presence-modules dnsmasq-base kamailio-tls-modules
LAB_OWN_PREFIX := $(or $(LAB_PREFIX),dpl-)
# Each prefix has its own work directory, so two labs never share one.
LAB_DIR ?= $(CURDIR)/$(BIN)/lab$(if $(filter-out dpl-,$(LAB_OWN_PREFIX)),-$(LAB_OWN_PREFIX:dpl-%=%))
# Only the default lab rewrites the committed table.
LAB_MATRIX ?= $(if $(filter-out dpl-,$(LAB_OWN_PREFIX)),,docs/nat-matrix.md)
LAB_TIMEOUT ?= 40m
# Cells run side by side, this many at a time.
LAB_PARALLEL ?= 2

lab-tools:
	$(call apt_install,$(LAB_PKGS))
	@# The packaged services must not run in the host namespace.
	@-systemctl disable --now kamailio coturn >/dev/null 2>&1 || true

test-lab: lab-tools build build-opus
	@test "$$(id -u)" = 0 || { echo "test-lab needs root (network namespaces)"; exit 1; }
	@# One run per prefix at a time (a second one would wipe the first's
	@# work directory and namespaces); the namespaces of this prefix go at
	@# the end, also when the run fails or is interrupted (the test removes
	@# them itself; this catches a killed test binary).
	exec 9>/run/lock/deskphone-make-test-lab-$(LAB_OWN_PREFIX).lock; \
	flock -n 9 || { echo "test-lab: a run with LAB_PREFIX=$(LAB_OWN_PREFIX) is already going"; exit 1; }; \
	rm -rf $(LAB_DIR) && mkdir -p $(LAB_DIR); \
	trap '$(MAKE) --no-print-directory lab-clean LAB_PREFIX=$(LAB_OWN_PREFIX)' EXIT; \
	DESKPHONE_TIER=natlab DESKPHONE_NATLAB_PREFIX=$(LAB_OWN_PREFIX) DESKPHONE_NATLAB_DIR=$(LAB_DIR) DESKPHONE_NATLAB_MATRIX=$(LAB_MATRIX) \
	  DESKPHONE_NATLAB_PHONED=$(CURDIR)/$(BIN)/phoned DESKPHONE_NATLAB_PBX=$(CURDIR)/$(BIN)/pbx \
	  DESKPHONE_NATLAB_PHONED_OPUS=$(CURDIR)/$(BIN)/opus/phoned \
	  DESKPHONE_NATLAB_ONLY='$(LAB_ONLY)' DESKPHONE_NATLAB_PCAP=$(LAB_PCAP) DESKPHONE_NATLAB_TALK=$(LAB_TALK) \
	  $(GO) test -count=1 -timeout $(LAB_TIMEOUT) -parallel $(LAB_PARALLEL) -run '^TestLab$$' -v ./tools/lab/natlab 2>&1 | tee $(LAB_DIR)/test.log; \
	  exit $${PIPESTATUS[0]}

# Without LAB_PREFIX every dpl- namespace goes; with it only the names a
# lab with that prefix creates (natlab.IsLabNS), so a lab running beside it
# with a longer prefix (dpl-b-) keeps its namespaces.
lab-clean:
	@pat='^dpl-'; if [ -n "$(LAB_PREFIX)" ]; then pat='^$(LAB_PREFIX)(inet|srv|probe|s[0-9]+-(ph|nat|cgn))$$'; fi; \
	for ns in $$(ip netns list 2>/dev/null | awk '{print $$1}' | grep -E "$$pat"); do echo "removing netns $$ns"; ip netns del $$ns; done; true
