# The firmware image (issue 5).
#
#   make image BOARD=qemu-arm64   bin/image/qemu-arm64/phone.img (+ .manifest, .sig), phone.upd (root update bundle),
#                                 and vmlinuz, initrd.img, cmdline.txt: the boot partition's files, for QEMU
#   make flash-tools              bin/flash, bin/mkimage
#
# The kernel is Debian's arm64 `linux-image-arm64` (its dependency, the
# versioned linux-image-*-arm64 package), fetched with a PRIVATE apt state
# under bin/kernel (the host's dpkg is never told about arm64) and unpacked
# with `dpkg -x`. The signing key is bin/keys/dev.key, generated on first
# build (bin/ is gitignored: the key is never committed). SOURCE_DATE_EPOCH
# defaults to the last commit's time so two builds of one commit are
# byte-identical.

.PHONY: image flash-tools image-kernel

BOARD ?= qemu-arm64
IMG_DIR ?= $(BIN)/image/$(BOARD)
IMG_KDIR := $(CURDIR)/$(BIN)/kernel
IMG_KEY := $(BIN)/keys/dev.key
IMG_PUB := $(BIN)/keys/dev.pub
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

flash-tools: deps
	$(GO) build -trimpath -o $(BIN)/ ./tools/cmd/flash ./tools/cmd/mkimage

$(IMG_KEY): | flash-tools
	./$(BIN)/flash keygen -key $(IMG_KEY) -pub $(IMG_PUB)

# image-kernel: bin/kernel/vmlinuz for arm64 from Debian.
image-kernel: $(IMG_KDIR)/vmlinuz
$(IMG_KDIR)/vmlinuz:
	@set -e; apt=$(IMG_KDIR)/apt; rm -rf $(IMG_KDIR)/root; \
	mkdir -p $$apt/lists/partial $$apt/cache/archives/partial $$apt/debs $(IMG_KDIR)/root; \
	aptopts="-o APT::Architecture=arm64 -o APT::Architectures=arm64 \
	  -o Dir::State::Lists=$$apt/lists -o Dir::Cache=$$apt/cache -o Dir::State::status=/dev/null \
	  -o Debug::NoLocking=1"; \
	DEBIAN_FRONTEND=noninteractive apt-get $$aptopts update -qq || echo "kernel: some indexes failed"; \
	pkg=$$(apt-cache $$aptopts depends linux-image-arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-arm64\)$$/\1/p' | head -1); \
	test -n "$$pkg" || { echo "kernel: no linux-image-*-arm64 package found"; exit 1; }; \
	echo "kernel: $$pkg"; cd $$apt/debs; rm -f *.deb; \
	DEBIAN_FRONTEND=noninteractive apt-get $$aptopts download $$pkg; \
	dpkg -x $$apt/debs/*.deb $(IMG_KDIR)/root; \
	cp $(IMG_KDIR)/root/boot/vmlinuz-* $(IMG_KDIR)/vmlinuz; \
	echo $$pkg > $(IMG_KDIR)/package; ls -l $(IMG_KDIR)/vmlinuz

image: deps flash-tools $(IMG_KEY) $(if $(filter qemu-arm64,$(BOARD)),$(IMG_KDIR)/vmlinuz)
	@test "$(BOARD)" = qemu-arm64 || { echo "image: BOARD=$(BOARD) is not supported yet (see docs/image.md)"; exit 1; }
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(IMG_DIR)/phoned ./firmware/cmd/phoned
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '-s -w' -o $(IMG_DIR)/loader ./firmware/initd/cmd/loader
	./$(BIN)/mkimage -board $(BOARD) -version $(VERSION) -kernel $(IMG_KDIR)/vmlinuz \
	  -loader $(IMG_DIR)/loader -modules-dir $$(ls -d $(IMG_KDIR)/root/lib/modules/*/ | head -1) -bootdir $(IMG_DIR) \
	  -init $(IMG_DIR)/phoned -key $(IMG_KEY) -pub $(IMG_PUB) -o $(IMG_DIR)/phone.img -bundle $(IMG_DIR)/phone.upd
	./$(BIN)/flash verify -pub $(IMG_PUB) $(IMG_DIR)/phone.img
	./$(BIN)/flash verify -pub $(IMG_PUB) $(IMG_DIR)/phone.upd
	@ls -l $(IMG_DIR)/phoned $(IMG_DIR)/loader $(IMG_DIR)/initrd.img $(IMG_DIR)/phone.img $(IMG_DIR)/phone.upd
