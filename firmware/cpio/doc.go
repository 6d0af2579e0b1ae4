// Package cpio reads and writes newc ("070701") cpio archives, the
// format of the Linux initramfs and of the phone's root slots.
//
// It is a leaf: the image builder (tools/mkimage) writes archives with
// it and the boot stage (firmware/initd) unpacks them with it, so device
// code does not depend on the host tool.
package cpio
