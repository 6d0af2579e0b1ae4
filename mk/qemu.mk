# The QEMU-emulated phone: boot it by hand, or run its test tier.
#
#   make qemu        build the qemu-arm64 image and boot it on this terminal,
#                    with a tools/pbx it registers to (Ctrl-A X quits QEMU)
#   make test-qemu   the image tier (tools/lab/qemu, tier "qemu"): boot,
#                    register, echo call with RTP both ways, flash push
#                    N->N+1, a broken update rolls back, a cut-off push
#                    changes nothing, power off
#
# Both run QEMU and the PBX inside a new network namespace that has only
# loopback (`unshare -rn`): QEMU's user-mode networking is a NAT whose
# host side is that namespace, so the guest reaches the PBX at
# 10.0.2.2:5060 (the namespace's 127.0.0.1:5060) and nothing it sends can
# leave the machine. The guest's API (8080), update agent (8081) and front
# panel (7000, board/qemu line protocol) are forwarded to the namespace's
# 127.0.0.1:18080, 18081, 17000 and the screen stream 17080.

.PHONY: qemu test-qemu qemu-tools qemu-image

QEMU_PKGS := qemu-system-arm util-linux iproute2 e2fsprogs
QEMU_DIR ?= $(BIN)/qemu
QEMU_VERSION ?= v1.0.0
QEMU_IMG := $(QEMU_DIR)/image
QEMU_DISK := $(QEMU_DIR)/phone.img
QEMU_FWD := hostfwd=tcp:127.0.0.1:18080-:8080,hostfwd=tcp:127.0.0.1:18081-:8081,hostfwd=tcp:127.0.0.1:17000-:7000,hostfwd=tcp:127.0.0.1:17080-:7080

# qemu-tools: Debian's packages for QEMU (and the kernel fetch's tools).
qemu-tools:
	$(call apt_install,$(QEMU_PKGS))

# qemu-image: the image of version QEMU_VERSION in $(QEMU_IMG).
qemu-image: qemu-tools
	$(MAKE) --no-print-directory image BOARD=qemu-arm64 VERSION=$(QEMU_VERSION) IMG_DIR=$(QEMU_IMG)

qemu: qemu-image build
	@cp $(QEMU_IMG)/phone.img $(QEMU_DISK)
	@echo "== booting the emulated phone (console below; Ctrl-A X quits)."
	@echo "== PBX 10.0.2.2:5060 (user 1001); API http://127.0.0.1:18080, update agent :18081, panel :17000, screen :17080 inside the namespace."
	unshare -rn bash -c 'set -e; ip link set lo up; \
	  ./$(BIN)/pbx -listen 127.0.0.1:5060 -realm pbx.local -user 1001:1001pass -natfix -advertise 10.0.2.2 -log-level warn > $(QEMU_DIR)/pbx.log 2>&1 & \
	  trap "kill $$! 2>/dev/null" EXIT; \
	  qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -smp 1 -nographic -no-user-config -nodefaults \
	    -serial mon:stdio -kernel $(QEMU_IMG)/vmlinuz -initrd $(QEMU_IMG)/initrd.img -append "$$(cat $(QEMU_IMG)/cmdline.txt)" \
	    -drive if=none,file=$(QEMU_DISK),format=raw,id=disk -device virtio-blk-pci,drive=disk \
	    -netdev user,id=n0,$(QEMU_FWD) -device virtio-net-pci,netdev=n0,romfile='

test-qemu: qemu-image
	@mkdir -p $(QEMU_DIR)/log
	$(call go_cross,arm64,,-s -w -X $(PKG)/firmware/version.Version=v1.0.1,$(QEMU_DIR)/phoned-next,./firmware/cmd/phoned)
	$(call go_cross,arm64,,-s -w -X $(PKG)/firmware/version.Version=v1.0.2,$(QEMU_DIR)/phoned-broken,./tools/lab/qemu/testdata/brokenphone)
	$(GO) test -c -o $(QEMU_DIR)/qemu.test ./tools/lab/qemu
	cd tools/lab/qemu && unshare -rn bash -c 'ip link set lo up && \
	  DESKPHONE_TIER=qemu DESKPHONE_QEMU_IMAGE=$(CURDIR)/$(QEMU_IMG) DESKPHONE_QEMU_NEXT=$(CURDIR)/$(QEMU_DIR)/phoned-next \
	  DESKPHONE_QEMU_BROKEN=$(CURDIR)/$(QEMU_DIR)/phoned-broken DESKPHONE_QEMU_KEY=$(CURDIR)/$(IMG_KEY) \
	  DESKPHONE_QEMU_PUB=$(CURDIR)/$(IMG_PUB) DESKPHONE_QEMU_LOGDIR=$(CURDIR)/$(QEMU_DIR)/log \
	  $(CURDIR)/$(QEMU_DIR)/qemu.test -test.v -test.count=1 -test.timeout 18m'
