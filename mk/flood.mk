# Flood tier: sipp floods a real phoned (tools/pbx as its registrar, all
# on loopback 127.0.0.x) with OPTIONS, REGISTER and strangers' INVITEs at
# FLOOD_RATE requests/s for FLOOD_DURATION, records the phone's RSS from
# /proc/PID/status, places a legitimate call during the flood, and
# checks the bounds (RSS under FLOOD_MAX_RSS_MB, the call connects,
# memory back within 60 s). Bounded: under four minutes.
#
#   make test-flood   install sipp (Debian sip-tester) if missing, build,
#                     run tools/lab/flood; the RSS curve goes to
#                     $(BIN)/flood-rss.csv

.PHONY: test-flood flood-tools

FLOOD_RATE ?= 2000
FLOOD_DURATION ?= 30s
FLOOD_MAX_RSS_MB ?= 40

flood-tools:
	$(call apt_install,sip-tester)

test-flood: flood-tools build
	DESKPHONE_TIER=flood DESKPHONE_FLOOD_BIN=$(CURDIR)/$(BIN) DESKPHONE_FLOOD_OUT=$(CURDIR)/$(BIN)/flood-rss.csv \
	DESKPHONE_FLOOD_RATE=$(FLOOD_RATE) DESKPHONE_FLOOD_DURATION=$(FLOOD_DURATION) DESKPHONE_FLOOD_MAX_RSS_MB=$(FLOOD_MAX_RSS_MB) \
	  $(GO) test -count=1 -v -timeout 5m ./tools/lab/flood/
