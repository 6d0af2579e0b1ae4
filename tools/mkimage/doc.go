// Package mkimage builds the firmware's disk image, reproducibly, in pure
// Go (no loop mounts, no root): the same inputs and SOURCE_DATE_EPOCH give
// the same bytes.
//
// Layout (GPT, UEFI 2.10 section 5.3; 1 MiB aligned, 512-byte sectors):
//
//	LBA 0          protective MBR
//	LBA 1..33      primary GPT header and 128 partition entries
//	1 MiB          boot   newc cpio: vmlinuz, cmdline.txt, manifest files
//	               rootA  newc cpio: /init = the static phoned, /etc/...
//	               rootB  the same as rootA
//	               data   zeroes; initd creates its filesystem on first boot
//	end-33..end    backup entries and header
//
// A root slot is a newc ("070701") cpio archive, the format the Linux
// kernel unpacks as an initramfs: the kernel can boot a slot directly as
// its initrd, and the update agent writes the same archive into a slot.
// Disk GUIDs are derived from the board and version, not random.
//
// For the rpi board the boot partition is a FAT32 volume (FAT32, written
// here in pure Go) holding the Raspberry Pi firmware, device trees,
// config.txt, cmdline.txt, vmlinuz and initrd.img, and the protective MBR
// becomes a hybrid one (writeHybridMBR): entry 1 is the boot partition
// with type 0x0C, which the Pi's boot ROM needs; entry 2 (0xEE) covers
// the GPT, which Linux keeps reading, so partitions keep their names.
package mkimage
