// Package initd is what phoned does as PID 1 inside the firmware image,
// and the boot stage before it.
//
// The boot stage (command firmware/initd/cmd/loader, the initramfs of the
// boot partition) loads the kernel modules, finds the disk's partitions by
// GPT name, makes the data partition's filesystem when it is blank
// (ext4.Format), picks the root slot with update.Boot, verifies it,
// unpacks its cpio archive into a read-only tmpfs and switches to it.
//
// Then phoned runs as PID 1 (Run): it mounts what the slot needs, brings
// up loopback and DHCP (a small RFC 2131 client that renews, rebinds and
// releases its lease), sets the clock by SNTP (ntp.Client, RFC 4330) when
// servers are configured, provisions the data
// partition on first boot (device token, default config), supervises the
// phone as a child process restarted with back-off, serves the update
// agent and SSDP, commits a trial boot once the phone is healthy, and
// shuts down cleanly (the phone un-registers first). docs/image.md
// describes the whole boot.
package initd
