// Package boot is the boot stage's mechanics, shared by the initramfs
// loader (firmware/initd/cmd/loader) and PID 1 (firmware/initd): the
// well-known paths and partition names, finding a partition by GPT name,
// mounting /proc, /sys, /dev and the data partition (making its ext4
// filesystem when blank, package ext4), loading kernel modules, choosing
// and verifying the root slot from the A/B record (Choose, over
// update.Boot), unpacking its cpio archive (Unpack) and switching root.
//
// It imports neither the phone's config nor anything of the VoIP or NAT
// stack, so the loader stays small.
package boot
