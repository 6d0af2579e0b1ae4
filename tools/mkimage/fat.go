package mkimage

import (
	"encoding/binary"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf16"
)

// FAT32 (Microsoft "FAT: General Overview of On-Disk Format" 1.03, the
// "fatgen103" specification), written in one pass into memory:
//
//	sector 0        boot sector with the BIOS parameter block
//	sector 1        FSInfo (free cluster count and next free hint)
//	sector 6, 7     backup boot sector and FSInfo
//	sector 32       FAT 1, then FAT 2 (identical), FATSz32 sectors each
//	after the FATs  the data region: cluster 2 (the root directory) on
//
// Every file and directory occupies one contiguous run of clusters, in
// the order the files are given, so the same files give the same bytes.
// Names that are not already upper-case 8.3 names get VFAT long name
// entries ahead of a generated short name ("BCM283~1.DTB").

// FAT32 limits.
const (
	fatReserved = 32
	fatCount    = 2
	// fat32MinClusters is the smallest cluster count of a FAT32 volume
	// (fatgen103 section 3.5: fewer is FAT16); a margin keeps clear of the
	// boundary, where some drivers disagree.
	fat32MinClusters = 65525 + 16
	fatEOC           = 0x0fffffff
)

// FATOptions describes a FAT32 volume.
type FATOptions struct {
	// Label is the volume label (at most 11 characters; default "BOOT").
	Label string
	// VolumeID is the volume serial number (fixed for reproducibility).
	VolumeID uint32
	// Time is every entry's modification time (Unix seconds, UTC).
	Time int64
	// HiddenSectors is the partition's first sector on the disk
	// (BPB_HiddSec).
	HiddenSectors uint32
}

// fatSectorsPerCluster follows fatgen103's table for FAT32 volumes with
// 512-byte sectors.
func fatSectorsPerCluster(sectors int64) int64 {
	switch {
	case sectors <= 532480: // 260 MB
		return 1
	case sectors <= 16777216: // 8 GB
		return 8
	case sectors <= 33554432:
		return 16
	case sectors <= 67108864:
		return 32
	default:
		return 64
	}
}

// fatGeometry returns the sectors per cluster, the sectors of one FAT and
// the data clusters of a volume of the given sectors.
func fatGeometry(sectors int64) (spc, fatSz, clusters int64) {
	spc = fatSectorsPerCluster(sectors)
	fatSz = 1
	for {
		clusters = (sectors - fatReserved - fatCount*fatSz) / spc
		need := ((clusters+2)*4 + sector - 1) / sector
		if need <= fatSz {
			return spc, fatSz, clusters
		}
		fatSz = need
	}
}

// fatNode is a file or directory of the volume being written.
type fatNode struct {
	name     string // long name
	dir      bool
	data     []byte
	children []*fatNode
	// Filled in by layout.
	short   [11]byte
	lfn     bool
	cluster uint32
	nclus   int64
}

// fatTree builds the directory tree of files (directories named by paths
// or given with CpioDir), keeping their order.
func fatTree(files []File) (*fatNode, error) {
	root := &fatNode{dir: true}
	dirs := map[string]*fatNode{"": root}
	var dirOf func(p string) (*fatNode, error)
	dirOf = func(p string) (*fatNode, error) {
		if n, ok := dirs[p]; ok {
			if !n.dir {
				return nil, fmt.Errorf("mkimage: fat: %s is a file and a directory", p)
			}
			return n, nil
		}
		parent, err := dirOf(parentDir(p))
		if err != nil {
			return nil, err
		}
		n := &fatNode{name: path.Base(p), dir: true}
		parent.children = append(parent.children, n)
		dirs[p] = n
		return n, nil
	}
	for _, f := range files {
		p := strings.Trim(path.Clean("/"+f.Name), "/")
		if p == "" || p == "." {
			return nil, fmt.Errorf("mkimage: fat: bad name %q", f.Name)
		}
		base := path.Base(p)
		if err := fatCheckName(base); err != nil {
			return nil, err
		}
		switch f.Mode & 0o170000 {
		case CpioDir:
			if _, err := dirOf(p); err != nil {
				return nil, err
			}
		case CpioReg:
			if _, ok := dirs[p]; ok {
				return nil, fmt.Errorf("mkimage: fat: %s given twice", p)
			}
			parent, err := dirOf(parentDir(p))
			if err != nil {
				return nil, err
			}
			n := &fatNode{name: base, data: f.Data}
			parent.children = append(parent.children, n)
			dirs[p] = n
		default:
			return nil, fmt.Errorf("mkimage: fat: %s: only files and directories", p)
		}
	}
	return root, nil
}

func parentDir(p string) string {
	d := path.Dir(p)
	if d == "." {
		return ""
	}
	return d
}

// fatCheckName refuses names a FAT directory cannot hold.
func fatCheckName(n string) error {
	if n == "" || n == "." || n == ".." || len(utf16.Encode([]rune(n))) > 255 {
		return fmt.Errorf("mkimage: fat: bad name %q", n)
	}
	for _, r := range n {
		if r < 0x20 || strings.ContainsRune(`"*/:<>?\|`, r) {
			return fmt.Errorf("mkimage: fat: bad character in %q", n)
		}
	}
	return nil
}

// shortChar reports whether r may appear in a short name (fatgen103
// section 6.1), after upper-casing.
func shortChar(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r < 0x80 && strings.ContainsRune("$%'-_@~`!(){}^#&", r)
}

// shortNames gives the children of a directory their 8.3 names: a name
// that is a valid upper-case 8.3 name keeps it; a name that upper-cases
// to a valid, unused one takes that plus a long name; any other gets a
// numeric tail ("BCM283~1.DTB") and a long name.
func shortNames(children []*fatNode) error {
	used := map[[11]byte]bool{}
	pad := func(base, ext string) [11]byte {
		var s [11]byte
		copy(s[:], "           ")
		copy(s[:8], base)
		copy(s[8:], ext)
		return s
	}
	for _, c := range children {
		base, ext := c.name, ""
		if i := strings.LastIndexByte(c.name, '.'); i > 0 {
			base, ext = c.name[:i], c.name[i+1:]
		}
		ub, ue := strings.ToUpper(base), strings.ToUpper(ext)
		lossless := len(ub) >= 1 && len(ub) <= 8 && len(ue) <= 3 && !strings.Contains(ub, ".")
		for _, r := range ub + ue {
			if !shortChar(r) {
				lossless = false
			}
		}
		if lossless && (ext != "" || !strings.HasSuffix(c.name, ".")) {
			s := pad(ub, ue)
			if !used[s] {
				used[s] = true
				c.short, c.lfn = s, ub != base || ue != ext
				continue
			}
		}
		clean := func(s string, max int) string {
			var b strings.Builder
			for _, r := range strings.ToUpper(s) {
				if r == ' ' || r == '.' {
					continue
				}
				if !shortChar(r) {
					r = '_'
				}
				if b.Len() < max {
					b.WriteRune(r)
				}
			}
			return b.String()
		}
		cb, ce := clean(base, 8), clean(ext, 3)
		found := false
		for n := 1; n < 1000000; n++ {
			tail := fmt.Sprintf("~%d", n)
			b := cb
			if len(b) > 8-len(tail) {
				b = b[:8-len(tail)]
			}
			s := pad(b+tail, ce)
			if !used[s] {
				used[s] = true
				c.short, c.lfn, found = s, true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("mkimage: fat: no short name left for %q", c.name)
		}
	}
	return nil
}

// dirEntries returns how many 32-byte entries a directory needs.
func (n *fatNode) dirEntries(root bool) int64 {
	e := int64(0)
	if root {
		e++ // the volume label
	} else {
		e += 2 // "." and ".."
	}
	for _, c := range n.children {
		e++
		if c.lfn {
			e += int64((len(utf16.Encode([]rune(c.name))) + 12) / 13)
		}
	}
	return e
}

// FAT32Size returns the size (a whole number of MiB) of the smallest FAT32
// partition holding files with free bytes to spare; never less than a
// FAT32 volume's minimum cluster count allows.
func FAT32Size(files []File, free int64) (int64, error) {
	root, err := fatTree(files)
	if err != nil {
		return 0, err
	}
	for size := int64(MiB); ; size += MiB {
		spc, _, clusters := fatGeometry(size / sector)
		if clusters < fat32MinClusters {
			continue
		}
		need, err := fatClusters(root, true, spc*sector)
		if err != nil {
			return 0, err
		}
		if need*spc*sector+free <= clusters*spc*sector {
			return size, nil
		}
	}
}

// fatClusters assigns short names and counts the clusters of a tree.
func fatClusters(n *fatNode, root bool, csize int64) (int64, error) {
	if err := shortNames(n.children); err != nil {
		return 0, err
	}
	total := max(1, (n.dirEntries(root)*32+csize-1)/csize)
	for _, c := range n.children {
		if c.dir {
			k, err := fatClusters(c, false, csize)
			if err != nil {
				return 0, err
			}
			total += k
		} else {
			total += (int64(len(c.data)) + csize - 1) / csize
		}
	}
	return total, nil
}

// FAT32 returns a FAT32 volume of size bytes (a multiple of 512) holding
// files: regular files and directories (CpioReg, CpioDir; other types are
// refused), every timestamp o.Time.
func FAT32(files []File, size int64, o FATOptions) ([]byte, error) {
	if size%sector != 0 {
		return nil, fmt.Errorf("mkimage: fat: size %d is not a multiple of %d", size, sector)
	}
	sectors := size / sector
	if sectors > 0xffffffff {
		return nil, fmt.Errorf("mkimage: fat: %d bytes is too big", size)
	}
	spc, fatSz, clusters := fatGeometry(sectors)
	if clusters < fat32MinClusters {
		return nil, fmt.Errorf("%w: %d bytes give %d clusters, FAT32 needs %d", ErrTooSmall, size, clusters, fat32MinClusters)
	}
	root, err := fatTree(files)
	if err != nil {
		return nil, err
	}
	csize := spc * sector
	need, err := fatClusters(root, true, csize)
	if err != nil {
		return nil, err
	}
	if need > clusters {
		return nil, fmt.Errorf("%w: files need %d clusters of %d bytes, the volume has %d", ErrTooBig, need, csize, clusters)
	}
	label := o.Label
	if label == "" {
		label = "BOOT"
	}
	if len(label) > 11 {
		return nil, fmt.Errorf("mkimage: fat: label %q longer than 11", label)
	}
	label = strings.ToUpper(label)

	img := make([]byte, size)
	fatStart := int64(fatReserved) * sector
	fat := make([]byte, fatSz*sector)
	binary.LittleEndian.PutUint32(fat[0:], 0x0ffffff8) // media byte F8
	binary.LittleEndian.PutUint32(fat[4:], fatEOC)     // clean, no errors
	next := uint32(2)
	alloc := func(n int64) uint32 {
		if n == 0 {
			return 0
		}
		first := next
		for i := range n {
			c := first + uint32(i)
			v := uint32(fatEOC)
			if i < n-1 {
				v = c + 1
			}
			binary.LittleEndian.PutUint32(fat[4*c:], v)
		}
		next += uint32(n)
		return first
	}
	dataStart := fatStart + fatCount*fatSz*sector
	clusterOff := func(c uint32) int64 { return dataStart + int64(c-2)*csize }
	date, tm := dosTime(o.Time)

	// Allocate in preorder: a directory, then its children's contents.
	var place func(n *fatNode, root bool)
	place = func(n *fatNode, root bool) {
		n.nclus = max(1, (n.dirEntries(root)*32+csize-1)/csize)
		n.cluster = alloc(n.nclus)
		for _, c := range n.children {
			if c.dir {
				place(c, false)
			} else {
				c.nclus = (int64(len(c.data)) + csize - 1) / csize
				c.cluster = alloc(c.nclus)
				if c.cluster != 0 {
					copy(img[clusterOff(c.cluster):], c.data)
				}
			}
		}
	}
	place(root, true)

	entry := func(b []byte, short [11]byte, attr byte, cluster uint32, fsize uint32) {
		copy(b[0:11], short[:])
		b[11] = attr
		binary.LittleEndian.PutUint16(b[14:], tm)
		binary.LittleEndian.PutUint16(b[16:], date)
		binary.LittleEndian.PutUint16(b[18:], date)
		binary.LittleEndian.PutUint16(b[20:], uint16(cluster>>16))
		binary.LittleEndian.PutUint16(b[22:], tm)
		binary.LittleEndian.PutUint16(b[24:], date)
		binary.LittleEndian.PutUint16(b[26:], uint16(cluster))
		binary.LittleEndian.PutUint32(b[28:], fsize)
	}
	var write func(n *fatNode, parent uint32, root bool)
	write = func(n *fatNode, parent uint32, root bool) {
		d := img[clusterOff(n.cluster) : clusterOff(n.cluster)+n.nclus*csize]
		i := 0
		put := func() []byte { b := d[i*32 : i*32+32]; i++; return b }
		if root {
			var l [11]byte
			copy(l[:], fmt.Sprintf("%-11s", label))
			entry(put(), l, 0x08, 0, 0)
		} else {
			entry(put(), [11]byte{'.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}, 0x10, n.cluster, 0)
			entry(put(), [11]byte{'.', '.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}, 0x10, parent, 0)
		}
		for _, c := range n.children {
			if c.lfn {
				for _, e := range lfnEntries(c.name, c.short) {
					copy(put(), e[:])
				}
			}
			if c.dir {
				entry(put(), c.short, 0x10, c.cluster, 0)
			} else {
				entry(put(), c.short, 0x20, c.cluster, uint32(len(c.data)))
			}
		}
		for _, c := range n.children {
			if c.dir {
				// ".." of a directory in the root names cluster 0
				// (fatgen103 section 6.3).
				write(c, map[bool]uint32{true: 0, false: n.cluster}[root], false)
			}
		}
	}
	write(root, 0, true)

	for i := range fatCount {
		copy(img[fatStart+int64(i)*fatSz*sector:], fat)
	}
	bs := fatBootSector(sectors, spc, fatSz, o.HiddenSectors, o.VolumeID, label)
	fsinfo := make([]byte, sector)
	binary.LittleEndian.PutUint32(fsinfo[0:], 0x41615252)
	binary.LittleEndian.PutUint32(fsinfo[484:], 0x61417272)
	binary.LittleEndian.PutUint32(fsinfo[488:], uint32(clusters-int64(next-2)))
	binary.LittleEndian.PutUint32(fsinfo[492:], next)
	binary.LittleEndian.PutUint32(fsinfo[508:], 0xaa550000)
	copy(img[0:], bs)
	copy(img[sector:], fsinfo)
	copy(img[6*sector:], bs)
	copy(img[7*sector:], fsinfo)
	return img, nil
}

// fatBootSector is the FAT32 boot sector (fatgen103 section 3.1, 3.3).
func fatBootSector(sectors, spc, fatSz int64, hidden, volID uint32, label string) []byte {
	b := make([]byte, sector)
	copy(b[0:], []byte{0xeb, 0x58, 0x90})
	copy(b[3:11], "MSWIN4.1")
	binary.LittleEndian.PutUint16(b[11:], sector)
	b[13] = byte(spc)
	binary.LittleEndian.PutUint16(b[14:], fatReserved)
	b[16] = fatCount
	b[21] = 0xf8
	binary.LittleEndian.PutUint16(b[24:], 63)
	binary.LittleEndian.PutUint16(b[26:], 255)
	binary.LittleEndian.PutUint32(b[28:], hidden)
	binary.LittleEndian.PutUint32(b[32:], uint32(sectors))
	binary.LittleEndian.PutUint32(b[36:], uint32(fatSz))
	binary.LittleEndian.PutUint32(b[44:], 2) // root cluster
	binary.LittleEndian.PutUint16(b[48:], 1) // FSInfo
	binary.LittleEndian.PutUint16(b[50:], 6) // backup boot sector
	b[64] = 0x80
	b[66] = 0x29
	binary.LittleEndian.PutUint32(b[67:], volID)
	copy(b[71:82], fmt.Sprintf("%-11s", label))
	copy(b[82:90], "FAT32   ")
	// Not bootable on a PC: the jump lands on a tight loop.
	b[90], b[91] = 0xeb, 0xfe
	b[510], b[511] = 0x55, 0xaa
	return b
}

// lfnEntries returns the VFAT long name entries of name, last part
// first, as they precede the short entry on disk.
func lfnEntries(name string, short [11]byte) [][32]byte {
	var sum byte
	for _, c := range short {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	padded := make([]uint16, n*13)
	for i := range padded {
		switch {
		case i < len(u):
			padded[i] = u[i]
		case i == len(u):
			padded[i] = 0
		default:
			padded[i] = 0xffff
		}
	}
	out := make([][32]byte, 0, n)
	for k := n; k >= 1; k-- {
		var e [32]byte
		e[0] = byte(k)
		if k == n {
			e[0] |= 0x40
		}
		e[11] = 0x0f
		e[13] = sum
		chunk := padded[(k-1)*13 : k*13]
		offs := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
		for j, o := range offs {
			binary.LittleEndian.PutUint16(e[o:], chunk[j])
		}
		out = append(out, e)
	}
	return out
}

// dosTime converts Unix seconds to a FAT date and time (2-second
// resolution), clamped to the years FAT can hold (1980..2107).
func dosTime(unix int64) (date, tm uint16) {
	t := time.Unix(unix, 0).UTC()
	switch {
	case t.Year() < 1980:
		return 1<<5 | 1, 0
	case t.Year() > 2107:
		return 127<<9 | 12<<5 | 31, 23<<11 | 59<<5 | 29
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	return date, tm
}
