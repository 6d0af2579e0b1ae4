// Package rpiimage is the Raspberry Pi image test tier: `make
// test-rpi-image` builds the rpi image (make image BOARD=rpi) and boots its
// kernel, device tree, boot stage and SD card under qemu-system-aarch64
// -M raspi3b, with no network device, until phoned starts (TestRPiBoot).
//
// The test runs only when DESKPHONE_TIER names the tier "rpiimage"; its
// parameters are DESKPHONE_RPIIMAGE_DIR (the image directory) and
// DESKPHONE_RPIIMAGE_LOG (where the console goes). Plain `go test ./...`
// skips it with a message.
package rpiimage
