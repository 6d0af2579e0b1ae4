# The firmware image: build it for QEMU or a Raspberry Pi, and boot the Pi one under QEMU.
#
#   make image BOARD=qemu-arm64   bin/image/qemu-arm64/phone.img (+ .manifest, .sig), phone.upd (root update bundle),
#                                 and vmlinuz, initrd.img, cmdline.txt: the boot partition's files, for QEMU
#   make image BOARD=rpi          bin/image/rpi/phone.img for a Raspberry Pi 3/4 SD card: FAT32 boot partition
#                                 (Pi firmware from Debian's raspi-firmware, device trees, config.txt), hybrid MBR
#   make test-rpi-image           boots the rpi image's kernel, initrd and SD card under qemu-system-aarch64 -M raspi3b
#   make flash-tools              bin/flash, bin/mkimage
#
# The kernel is Debian's arm64 `linux-image-arm64` (its dependency, the
# versioned linux-image-*-arm64 package), fetched with a PRIVATE apt state
# under bin/kernel (private_apt in mk/common.mk: the host's dpkg is never
# told about arm64) and unpacked with `dpkg -x`. The signing key is bin/keys/dev.key, generated on first
# build (bin/ is gitignored: the key is never committed). SOURCE_DATE_EPOCH
# defaults to the last commit's time so two builds of one commit are
# byte-identical.

.PHONY: image flash-tools image-kernel image-rpi-firmware fat-tools test-rpi-image

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
	@set -e; rm -rf $(IMG_KDIR)/root; mkdir -p $(IMG_KDIR)/root; \
	$(call private_apt,$(IMG_KDIR)/apt,arm64); \
	pkg=$$(apt-cache $$aptopts depends linux-image-arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-arm64\)$$/\1/p' | head -1); \
	test -n "$$pkg" || { echo "kernel: no linux-image-*-arm64 package found"; exit 1; }; \
	echo "kernel: $$pkg"; \
	$(call private_apt_download,$$pkg) || { echo "kernel: cannot download $$pkg"; exit 1; }; \
	dpkg -x $$apt/debs/*.deb $(IMG_KDIR)/root; \
	cp $(IMG_KDIR)/root/boot/vmlinuz-* $(IMG_KDIR)/vmlinuz; \
	echo $$pkg > $(IMG_KDIR)/package; ls -l $(IMG_KDIR)/vmlinuz

# image-rpi-firmware: the Raspberry Pi's GPU firmware (bootcode.bin,
# start*.elf, fixup*.dat) from Debian's raspi-firmware package, component
# non-free-firmware, with a private apt state and sources list (only
# deb.debian.org is used; the host's apt configuration is not touched).
RPI_FWDIR := $(CURDIR)/$(BIN)/rpi-firmware
RPI_FW := $(RPI_FWDIR)/root/usr/lib/raspi-firmware
RPI_FW_FILES := bootcode.bin start.elf fixup.dat start4.elf fixup4.dat
RPI_DTBS := bcm2837-rpi-3-b.dtb bcm2837-rpi-3-b-plus.dtb bcm2837-rpi-3-a-plus.dtb bcm2837-rpi-zero-2-w.dtb \
  bcm2837-rpi-cm3-io3.dtb bcm2711-rpi-4-b.dtb bcm2711-rpi-400.dtb bcm2711-rpi-cm4-io.dtb
image-rpi-firmware: $(RPI_FW)/start4.elf
$(RPI_FW)/start4.elf:
	@set -e; rm -rf $(RPI_FWDIR)/root; mkdir -p $(RPI_FWDIR)/apt $(RPI_FWDIR)/root; \
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main non-free-firmware" > $(RPI_FWDIR)/apt/sources.list; \
	$(call private_apt,$(RPI_FWDIR)/apt,arm64,-o Dir::Etc::SourceList=$(RPI_FWDIR)/apt/sources.list -o Dir::Etc::SourceParts=/nonexistent); \
	$(call private_apt_download,raspi-firmware) || { \
	  echo "image: BOARD=rpi needs the Raspberry Pi firmware (bootcode.bin, start*.elf, fixup*.dat): Debian package"; \
	  echo "  raspi-firmware, bookworm non-free-firmware, from deb.debian.org. It could not be fetched; see docs/image.md."; exit 1; }; \
	dpkg -x $$apt/debs/raspi-firmware_*.deb $(RPI_FWDIR)/root; \
	ls $$apt/debs/raspi-firmware_*.deb | sed 's|.*/||' > $(RPI_FWDIR)/package; \
	for f in $(RPI_FW_FILES); do test -s $(RPI_FW)/$$f || { echo "image: raspi-firmware has no $$f"; exit 1; }; done; \
	echo "rpi firmware: $$(cat $(RPI_FWDIR)/package)"

# fat-tools: dosfstools and mtools, to check the rpi boot partition.
fat-tools:
	$(call apt_install,dosfstools mtools fdisk)

IMG_RPI := $(filter rpi,$(BOARD))
image: deps flash-tools $(IMG_KEY) $(IMG_KDIR)/vmlinuz $(if $(IMG_RPI),$(RPI_FW)/start4.elf fat-tools)
	@case "$(BOARD)" in qemu-arm64|rpi) ;; *) echo "image: BOARD=$(BOARD): want qemu-arm64 or rpi (see docs/image.md)"; exit 1;; esac
	$(call go_cross,arm64,,$(LDFLAGS),$(IMG_DIR)/phoned,./firmware/cmd/phoned)
	$(call go_cross,arm64,,-s -w,$(IMG_DIR)/loader,./firmware/initd/cmd/loader)
ifneq ($(IMG_RPI),)
	@rm -rf $(IMG_DIR)/bootfiles && mkdir -p $(IMG_DIR)/bootfiles
	cd $(RPI_FW) && cp $(RPI_FW_FILES) $(abspath $(IMG_DIR))/bootfiles/
	cd $$(ls -d $(IMG_KDIR)/root/usr/lib/linux-image-*/broadcom | head -1) && cp $(RPI_DTBS) $(abspath $(IMG_DIR))/bootfiles/
endif
	./$(BIN)/mkimage -board $(BOARD) -version $(VERSION) -kernel $(IMG_KDIR)/vmlinuz \
	  -loader $(IMG_DIR)/loader -modules-dir $$(ls -d $(IMG_KDIR)/root/lib/modules/*/ | head -1) -bootdir $(IMG_DIR) \
	  $(if $(IMG_RPI),-boot-files $(IMG_DIR)/bootfiles) \
	  -init $(IMG_DIR)/phoned -key $(IMG_KEY) -pub $(IMG_PUB) -o $(IMG_DIR)/phone.img -bundle $(IMG_DIR)/phone.upd
	./$(BIN)/flash verify -pub $(IMG_PUB) $(IMG_DIR)/phone.img
	./$(BIN)/flash verify -pub $(IMG_PUB) $(IMG_DIR)/phone.upd
ifneq ($(IMG_RPI),)
	@# The boot partition (GPT/MBR entry 1, at 1 MiB): fsck.fat and mtools read it.
	@sfdisk --label-nested dos -d $(IMG_DIR)/phone.img | grep -q 'type=c$$' || { echo "image: no FAT32 (0x0C) MBR entry"; exit 1; }
	@size=$$(sfdisk -d $(IMG_DIR)/phone.img | sed -n 's/.*size= *\([0-9]*\),.*name="boot".*/\1/p'); \
	  dd if=$(IMG_DIR)/phone.img of=$(IMG_DIR)/boot.fat bs=512 skip=2048 count=$$size status=none && \
	  fsck.fat -n $(IMG_DIR)/boot.fat && mdir -i $(IMG_DIR)/boot.fat -b :: | sort | tr '\n' ' '; echo; rm -f $(IMG_DIR)/boot.fat
	@sfdisk -d $(IMG_DIR)/phone.img | grep name=
endif
	@ls -l $(IMG_DIR)/phoned $(IMG_DIR)/loader $(IMG_DIR)/initrd.img $(IMG_DIR)/phone.img $(IMG_DIR)/phone.upd

# test-rpi-image: the rpi image boots under qemu-system-aarch64 -M raspi3b
# (TCG): kernel, bcm2837-rpi-3-b.dtb, the boot stage and a copy of
# phone.img as the SD card, no network device, inside a loopback-only
# namespace. Passes when the console shows the data partition found on
# the SD card, slot A booted, initd on board rpi and phoned started
# (tools/lab/rpiimage TestRPiBoot, tier "rpiimage"; console in
# bin/image/rpi/console.log).
test-rpi-image: qemu-tools
	$(MAKE) --no-print-directory image BOARD=rpi
	$(GO) test -c -o $(BIN)/rpiimage.test ./tools/lab/rpiimage
	cd tools/lab/rpiimage && unshare -rn env DESKPHONE_TIER=rpiimage DESKPHONE_RPIIMAGE_DIR=$(CURDIR)/$(BIN)/image/rpi \
	  DESKPHONE_RPIIMAGE_LOG=$(CURDIR)/$(BIN)/image/rpi/console.log \
	  $(CURDIR)/$(BIN)/rpiimage.test -test.run '^TestRPiBoot$$' -test.v -test.count=1 -test.timeout 6m
