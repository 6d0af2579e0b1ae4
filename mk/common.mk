# Shared make definitions: the Makefile includes this file before every
# other mk/*.mk, so each tier's target can use them.
#
#   $(call apt_install,PACKAGES)              install the Debian packages that are missing
#   $(call private_apt,DIR,ARCH[,OPTIONS])    shell: an apt state of its own in DIR for ARCH
#   $(call private_apt_download,PACKAGES)     shell: download PACKAGES into $$apt/debs
#   $(call go_cross,GOARCH,GOARM,LDFLAGS,OUT,PACKAGE)   a static (CGO_ENABLED=0) linux build

# apt_install PACKAGES: a recipe line that installs those of PACKAGES dpkg
# does not know, unattended (apt-get update runs only when one is
# missing), as root or through sudo. Safe to run again.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

# private_apt DIR ARCH [OPTIONS]: shell words (for a recipe line that ends
# with `; \`) that make an apt state of its own in DIR for ARCH, set
# $$apt to DIR and $$aptopts to the apt-get options that use it, and fetch
# its package indexes. The host's dpkg and apt state are never touched (a
# foreign architecture in the host's dpkg can break its own upgrades), so
# what is downloaded is unpacked with `dpkg -x`, never installed. OPTIONS
# are more apt-get options (e.g. a sources list of its own).
private_apt = apt=$(1); \
	mkdir -p $$apt/lists/partial $$apt/cache/archives/partial $$apt/debs; \
	aptopts="-o APT::Architecture=$(2) -o APT::Architectures=$(2) \
	  -o Dir::State::Lists=$$apt/lists -o Dir::Cache=$$apt/cache -o Dir::State::status=/dev/null \
	  -o Debug::NoLocking=1 $(3)"; \
	DEBIAN_FRONTEND=noninteractive apt-get $$aptopts update -qq || echo "apt $$apt: some indexes failed"

# private_apt_download PACKAGES: shell (after private_apt) that downloads
# PACKAGES into $$apt/debs, with up to three tries (indexes fetched again
# between them); its exit status says whether it succeeded.
private_apt_download = ok=""; for try in 1 2 3; do \
	  rm -f $$apt/debs/*.deb; \
	  if (cd $$apt/debs && DEBIAN_FRONTEND=noninteractive apt-get $$aptopts download $(1)); then ok=1; break; fi; \
	  [ $$try = 3 ] || { sleep 5; DEBIAN_FRONTEND=noninteractive apt-get $$aptopts update -qq || echo "apt $$apt: some indexes failed (try $$try)"; }; \
	done; test -n "$$ok"

# go_cross GOARCH GOARM LDFLAGS OUT PACKAGE: a command that builds
# PACKAGE for linux/GOARCH (GOARM for 32-bit arm, else empty) without cgo,
# with phoned's tags and linker flag (Makefile: PHONED_TAGS, LINKNAME).
go_cross = CGO_ENABLED=0 GOOS=linux GOARCH=$(1) $(if $(2),GOARM=$(2) )$(GO) build -trimpath -tags '$(PHONED_TAGS)' -ldflags '$(3) $(LINKNAME)' -o $(4) $(5)
