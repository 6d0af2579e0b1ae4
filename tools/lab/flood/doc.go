// Package flood is the flood tier: sipp floods a real phoned (registered
// with tools/pbx, all on loopback) with OPTIONS, REGISTER and strangers'
// INVITEs, while the test records the phone's RSS and places a
// legitimate call. It runs only under `make test-flood`
// (DESKPHONE_TIER=flood); parameters are DESKPHONE_FLOOD_RATE,
// DESKPHONE_FLOOD_DURATION, DESKPHONE_FLOOD_MAX_RSS_MB,
// DESKPHONE_FLOOD_RECOVER, DESKPHONE_FLOOD_BIN and DESKPHONE_FLOOD_OUT.
package flood
