# Browser tier: headless Chromium drives the web admin page of a real
# phoned (tools/pbx as its registrar, all on loopback): login, an
# account's password from wrong to right, registration without a restart,
# a call to echo from the calls page, a screenshot of every page.
# Bounded: under three minutes.
#
#   make test-browser                      install chromium if missing, build, run
#                                          tools/lab/browser; screenshots in $(BIN)/web-shots
#   make test-browser BROWSER_SHOTS=docs/web   refresh the screenshots docs/web.md shows

.PHONY: test-browser browser-tools

BROWSER_SHOTS ?= $(BIN)/web-shots

browser-tools:
	$(call apt_install,chromium)

test-browser: browser-tools build
	DESKPHONE_TIER=browser DESKPHONE_BROWSER_BIN=$(CURDIR)/$(BIN) DESKPHONE_BROWSER_SHOTS=$(abspath $(BROWSER_SHOTS)) \
	  $(GO) test -count=1 -v -timeout 4m ./tools/lab/browser/
