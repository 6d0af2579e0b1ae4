// Package ext4 makes the data partition's filesystem: Format writes the
// smallest ext4 with a journal the kernel accepts (one block group, no
// mke2fs in the image), and Detect tells a blank partition from one that
// holds an ext2/3/4 filesystem. The boot stage (firmware/initd) formats
// the data partition with it on first boot.
package ext4
