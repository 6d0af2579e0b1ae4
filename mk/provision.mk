# Zero-touch provisioning against real servers (tools/lab/qemu,
# provision_test.go, tier "provision"):
#
#   make test-provision   in a network namespace of its own (root: it
#                         makes a tap device): Debian's dnsmasq hands the
#                         emulated phone an address and DHCP option 66,
#                         nginx serves phone.yaml, <mac>.yaml and signed
#                         bundles, tools/pbx takes the registration. The
#                         image boots with no config, fetches its account,
#                         registers, pulls v1.0.1 from the URL its files
#                         name, then rolls a broken v1.0.2 back.

.PHONY: test-provision provision-tools

PROVISION_PKGS := dnsmasq nginx-light

provision-tools: qemu-tools
	$(call apt_install,$(PROVISION_PKGS))

test-provision: provision-tools qemu-image
	@mkdir -p $(QEMU_DIR)/log
	$(call go_cross,arm64,,-s -w -X $(PKG)/firmware/version.Version=v1.0.1,$(QEMU_DIR)/phoned-next,./firmware/cmd/phoned)
	$(call go_cross,arm64,,-s -w -X $(PKG)/firmware/version.Version=v1.0.2,$(QEMU_DIR)/phoned-broken,./tools/lab/qemu/testdata/brokenphone)
	$(GO) test -c -o $(QEMU_DIR)/qemu.test ./tools/lab/qemu
	cd tools/lab/qemu && unshare -n bash -c '\
	  DESKPHONE_TIER=provision DESKPHONE_PROVISION_IMAGE=$(CURDIR)/$(QEMU_IMG) DESKPHONE_PROVISION_NEXT=$(CURDIR)/$(QEMU_DIR)/phoned-next \
	  DESKPHONE_PROVISION_BROKEN=$(CURDIR)/$(QEMU_DIR)/phoned-broken DESKPHONE_PROVISION_KEY=$(CURDIR)/$(IMG_KEY) \
	  DESKPHONE_PROVISION_PUB=$(CURDIR)/$(IMG_PUB) DESKPHONE_PROVISION_LOGDIR=$(CURDIR)/$(QEMU_DIR)/log \
	  $(CURDIR)/$(QEMU_DIR)/qemu.test -test.run "^TestProvision$$" -test.v -test.count=1 -test.timeout 22m'
