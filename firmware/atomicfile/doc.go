// Package atomicfile replaces files atomically: the data goes to a
// temporary file in the same directory, which is synced, renamed over the
// old file, and followed by a sync of the directory, so a power cut leaves
// either the old file or the new one, never a mixture.
//
// It is a leaf that the phone's config (firmware/config), the A/B record
// (firmware/update) and the boot-time provisioning (firmware/initd) share.
package atomicfile
