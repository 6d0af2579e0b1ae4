package mkimage

import "github.com/deskphone/phone/firmware/cpio"

// File is one file of an image's archives or boot partition: a cpio
// entry (firmware/cpio), whichever format the partition has.
type File = cpio.File

// File types for File.Mode (the st_mode bits), as in firmware/cpio.
const (
	CpioDir     = cpio.Dir
	CpioReg     = cpio.Reg
	CpioSymlink = cpio.Symlink
	CpioChar    = cpio.Char
)
