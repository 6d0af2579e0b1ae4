package cpio

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// File is one entry of a cpio archive.
type File struct {
	Name string // without a leading "/"
	Mode uint32 // permission bits and type (Dir, Reg, Symlink)
	Data []byte // content; the target for a symlink
	// Major and Minor are the device numbers of a device node
	// (Char); zero otherwise.
	Major, Minor uint32
}

// File types for File.Mode (the st_mode bits).
const (
	Dir     = 0o040000
	Reg     = 0o100000
	Symlink = 0o120000
	Char    = 0o020000
)

// Write writes files as a newc cpio archive (the "070701" format of
// the kernel's initramfs, Documentation/driver-api/early-userspace/
// buffer-format.rst) with every mtime set to mtime, owner root, inodes
// numbered in order, and the TRAILER!!! entry.
//
//	header: magic "070701", then 13 fields of 8 hex digits: ino, mode,
//	uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
//	rdevminor, namesize (with NUL), check; name NUL-padded to 4 bytes,
//	data padded to 4 bytes.
func Write(w io.Writer, files []File, mtime int64) error {
	cw := &countWriter{w: w}
	for i, f := range files {
		if f.Name == "" {
			return errors.New("cpio: entry without a name")
		}
		nlink := 1
		if f.Mode&0o170000 == Dir {
			nlink = 2
		}
		if err := writeEntry(cw, uint32(i+1), f.Mode, nlink, mtime, f.Name, f.Data, f.Major, f.Minor); err != nil {
			return err
		}
	}
	return writeEntry(cw, 0, 0, 1, 0, "TRAILER!!!", nil, 0, 0)
}

func writeEntry(cw *countWriter, ino, mode uint32, nlink int, mtime int64, name string, data []byte, major, minor uint32) error {
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, uint32(mtime), len(data), 0, 0, major, minor, len(name)+1, 0)
	cw.write([]byte(hdr))
	cw.write([]byte(name))
	cw.write([]byte{0})
	cw.pad4()
	cw.write(data)
	cw.pad4()
	return cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *countWriter) pad4() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// ErrBad is returned for an archive Read cannot parse.
var ErrBad = errors.New("cpio: bad archive")

// Read parses a newc archive up to its trailer. It bounds every size
// by the input, so a damaged archive gives an error, never a panic.
func Read(b []byte) ([]File, error) {
	var files []File
	off := 0
	for {
		if len(b)-off < 110 {
			return nil, fmt.Errorf("%w: header at %d", ErrBad, off)
		}
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			return nil, fmt.Errorf("%w: magic at %d", ErrBad, off)
		}
		field := func(i int) (int, error) {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			return int(v), err
		}
		mode, err1 := field(1)
		size, err2 := field(6)
		nameSize, err3 := field(11)
		major, err4 := field(9)
		minor, err5 := field(10)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil || nameSize < 1 {
			return nil, fmt.Errorf("%w: fields at %d", ErrBad, off)
		}
		off += 110
		if len(b)-off < nameSize {
			return nil, fmt.Errorf("%w: name at %d", ErrBad, off)
		}
		name := string(b[off : off+nameSize-1])
		off = align4(off + nameSize)
		if name == "TRAILER!!!" {
			return files, nil
		}
		if name == "" {
			return nil, fmt.Errorf("%w: empty name at %d", ErrBad, off)
		}
		if off > len(b) || len(b)-off < size {
			return nil, fmt.Errorf("%w: %s: data", ErrBad, name)
		}
		files = append(files, File{Name: name, Mode: uint32(mode), Data: b[off : off+size], Major: uint32(major), Minor: uint32(minor)})
		off = align4(off + size)
	}
}

func align4(n int) int { return (n + 3) &^ 3 }
