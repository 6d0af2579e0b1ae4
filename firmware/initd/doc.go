// Package initd is what phoned does as PID 1 inside the firmware image:
// the orchestrator of the device's own services.
//
// phoned runs it as PID 1 (Main): it mounts what the slot needs, brings up
// loopback and the network (static, or DHCP with package dhcp: a small
// RFC 2131 client that renews, rebinds and releases its lease), sets the
// clock by SNTP (package ntp, RFC 4330) when servers are configured,
// provisions the data partition on first boot (device token, default
// config), supervises the phone as a child process restarted with
// back-off, serves the update agent and SSDP, commits a trial boot once
// the phone is healthy, and shuts down cleanly (the phone un-registers
// first).
//
// The boot stage before it (command firmware/initd/cmd/loader, the
// initramfs of the boot partition) is built from package boot alone:
// partitions by GPT name, the data partition's filesystem (package ext4),
// the choice and verification of the root slot, and switch_root. It does
// not import this package, so it carries neither the phone's config nor
// its dependencies. docs/image.md describes the whole boot.
//
//	firmware/initd        PID 1: wiring, provisioning, supervision
//	firmware/initd/boot   boot stage: partitions, mounts, slot choice, unpack
//	firmware/initd/dhcp   DHCPv4 client and applying a lease (Linux)
//	firmware/initd/ntp    SNTP client and the clock
//	firmware/initd/ext4   the data partition's filesystem
package initd
