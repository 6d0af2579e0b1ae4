package mkimage

import "errors"

var (
	// ErrBadGPT is returned by ReadGPT for a disk without a valid GPT.
	ErrBadGPT = errors.New("mkimage: no valid GPT")
	// ErrTooBig is returned when a root filesystem does not fit its slot.
	ErrTooBig = errors.New("mkimage: does not fit its partition")
)

// ErrTooSmall is returned for a FAT32 volume too small to be one.
var ErrTooSmall = errors.New("mkimage: partition too small")

// ErrBadMBR is returned by ReadMBR for a disk without an MBR signature.
var ErrBadMBR = errors.New("mkimage: no MBR")
