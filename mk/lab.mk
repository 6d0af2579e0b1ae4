# Network lab (issue 6): real Linux NATs in network namespaces, Kamailio,
# coturn, phoned and baresip. Needs root; installs its Debian packages.
#
#   make test-lab    install the packages, build phoned, run the lab tests,
#                    write the results table to docs/nat-matrix.md
#   make lab-clean   remove leftover lab namespaces (names start with dpl-)
#
# The target fails on infrastructure errors (a namespace, NAT recipe or
# server that cannot be set up) and on cells listed in lab/mustpass.txt;
# other failing cells are findings written into the table.

.PHONY: test-lab lab-clean lab-tools

LAB_PKGS := kamailio coturn baresip sip-tester iproute2 iptables nftables sox tshark conntrack
LAB_DIR ?= $(CURDIR)/$(BIN)/lab
LAB_APT_ENV := DEBIAN_FRONTEND=noninteractive

lab-tools:
	@missing=""; for p in $(LAB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(LAB_APT_ENV) apt-get update -qq && $(LAB_APT_ENV) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# The packaged services must not run in the host namespace.
	@-systemctl disable --now kamailio coturn >/dev/null 2>&1 || true

test-lab: lab-tools build
	@test "$$(id -u)" = 0 || { echo "test-lab needs root (network namespaces)"; exit 1; }
	rm -rf $(LAB_DIR) && mkdir -p $(LAB_DIR)
	DESKPHONE_LAB=1 LAB_DIR=$(LAB_DIR) LAB_MATRIX=docs/nat-matrix.md LAB_PHONED=$(CURDIR)/$(BIN)/phoned \
	  $(GO) test -count=1 -timeout 25m -run '^TestLab$$' -v ./lab 2>&1 | tee $(LAB_DIR)/test.log; \
	  rc=$${PIPESTATUS[0]}; $(MAKE) --no-print-directory lab-clean; exit $$rc

lab-clean:
	@for ns in $$(ip netns list 2>/dev/null | awk '{print $$1}' | grep '^dpl-'); do echo "removing netns $$ns"; ip netns del $$ns; done; true
