# Hardware tiers: the Raspberry Pi phoned with ALSA audio (cgo, cross
# compiled), the hal/board tests as arm64 binaries under qemu-user,
# and the ALSA package's own tests. Each target installs what it needs with
# apt-get (as root, unattended) and is safe to run again.
#
#   make cross-rpi   bin/rpi-arm64/phoned and bin/rpi-armhf/phoned, cgo + oto/ALSA + libopus
#   make test-arm64  go test ./hal/... ./board/... for arm64 under qemu-aarch64-static
#   make test-alsa   go vet + go test -race of hal/alsa and board/rpi with -tags alsa
#
# The cross compilers are Debian's gcc-aarch64-linux-gnu and
# gcc-arm-linux-gnueabihf. The target's ALSA headers and library are not
# installed with `dpkg --add-architecture` (a foreign architecture in the
# host's dpkg can break its `apt-get update` and upgrades); instead apt,
# with a private state directory under bin/sysroot (private_apt in
# mk/common.mk), downloads the arm64 and armhf libasound2 and
# libasound2-dev packages and `dpkg -x` unpacks them into a sysroot that
# pkg-config (which oto/v2 uses) and the linker point at.

.PHONY: cross-rpi test-arm64 test-alsa hw-tools-cross hw-tools-qemu hw-tools-alsa

HW_SYSROOT := $(CURDIR)/$(BIN)/sysroot
HW_PHONED := ./firmware/cmd/phoned

hw-tools-cross:
	$(call apt_install,gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross pkg-config)

hw-tools-qemu:
	$(call apt_install,qemu-user-static)

hw-tools-alsa:
	$(call apt_install,libasound2-dev pkg-config gcc libc6-dev)

# $(HW_SYSROOT)/ARCH/.done: libasound2 + libasound2-dev for ARCH, unpacked.
$(HW_SYSROOT)/%/.done: | hw-tools-cross
	@set -e; arch=$*; root=$(HW_SYSROOT)/$$arch; rm -rf $$root; mkdir -p $$root; \
	echo "sysroot $$arch: fetching libasound2, libasound2-dev"; \
	$(call private_apt,$(HW_SYSROOT)/apt-$$arch,$$arch); \
	$(call private_apt_download,libasound2 libasound2-dev) || { echo "sysroot $$arch: cannot download libasound2-dev"; exit 1; }; \
	chmod -R a+rX $$apt 2>/dev/null || true; \
	for d in $$apt/debs/*.deb; do dpkg -x $$d $$root; done; \
	test -f $$root/usr/include/alsa/asoundlib.h; \
	touch $$root/.done

# $(HW_SYSROOT)/ARCH/.opus: libopus0 + libopus-dev for ARCH unpacked into
# the same sysroot, so the Pi phoned carries Opus (issue 16, -tags opus).
$(HW_SYSROOT)/%/.opus: $(HW_SYSROOT)/%/.done
	@set -e; arch=$*; root=$(HW_SYSROOT)/$$arch; \
	echo "sysroot $$arch: fetching libopus0, libopus-dev"; \
	$(call private_apt,$(HW_SYSROOT)/apt-opus-$$arch,$$arch); \
	$(call private_apt_download,libopus0 libopus-dev) || { echo "sysroot $$arch: cannot download libopus-dev"; exit 1; }; \
	chmod -R a+rX $$apt 2>/dev/null || true; \
	for d in $$apt/debs/*.deb; do dpkg -x $$d $$root; done; \
	test -f $$root/usr/include/opus/opus.h; \
	touch $$root/.opus

# hw_build GOARCH GOARM TRIPLET DEBARCH OUTDIR
define hw_build
	@set -e; root=$(HW_SYSROOT)/$(4); out=$(BIN)/$(5); mkdir -p $$out; \
	export CGO_ENABLED=1 GOOS=linux GOARCH=$(1) GOARM=$(2) CC=$(3)-gcc \
	  PKG_CONFIG_SYSROOT_DIR=$$root \
	  PKG_CONFIG_LIBDIR=$$root/usr/lib/$(3)/pkgconfig:$$root/usr/share/pkgconfig \
	  CGO_LDFLAGS="-Wl,-rpath-link,$$root/usr/lib/$(3)"; \
	echo "== $(5): $$(pkg-config --cflags --libs alsa opus)"; \
	if [ -d $(HW_PHONED) ]; then \
	  $(GO) build -tags 'alsa opus $(PHONED_TAGS)' -trimpath -ldflags '$(LDFLAGS) $(LINKNAME)' -o $$out/phoned $(HW_PHONED); \
	else echo "$(HW_PHONED) missing: checking the Pi packages only"; fi; \
	$(GO) build -tags alsa ./board/rpi/... ./hal/alsa; \
	$(GO) test -c -tags alsa -o $$out/alsa.test ./hal/alsa; \
	ls -l $$out
endef

cross-rpi: deps hw-tools-cross $(HW_SYSROOT)/arm64/.done $(HW_SYSROOT)/armhf/.done $(HW_SYSROOT)/arm64/.opus $(HW_SYSROOT)/armhf/.opus
	$(call hw_build,arm64,,aarch64-linux-gnu,arm64,rpi-arm64)
	$(call hw_build,arm,7,arm-linux-gnueabihf,armhf,rpi-armhf)

test-arm64: deps hw-tools-qemu
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -count=1 -timeout 10m -exec qemu-aarch64-static ./hal/... ./board/...

test-alsa: deps hw-tools-alsa
	$(GO) vet -tags alsa ./hal/alsa ./board/rpi
	CGO_ENABLED=1 $(GO) test -race -tags alsa -count=1 ./hal/alsa ./board/rpi
