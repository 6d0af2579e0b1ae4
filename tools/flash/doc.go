// Package flash is the field flashing tool's logic (the command is
// tools/cmd/flash): keys and signatures, writing a signed disk image to an
// SD card, block device or file with read-back verification, pushing a
// signed update bundle to a running phone, and finding phones on the LAN.
//
// A disk image IMAGE comes with IMAGE.manifest (a firmware/update
// Manifest of kind "image") and IMAGE.sig (its ed25519 signature); an
// update bundle carries both inside (see firmware/update). Nothing is
// written before the signature and every part's SHA-256 have been checked.
package flash
