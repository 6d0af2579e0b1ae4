package mkimage

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

const sector = 512

// linuxData is the GPT type GUID "Linux filesystem data"
// 0FC63DAF-8483-4772-8E79-3D69D8477DE4, in its on-disk byte order.
var linuxData = guidBytes([16]byte{0x0f, 0xc6, 0x3d, 0xaf, 0x84, 0x83, 0x47, 0x72, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4})

// guidBytes converts a GUID written big-endian (as printed) to the mixed
// endianness GPT stores: the first three fields little-endian.
func guidBytes(g [16]byte) [16]byte {
	var o [16]byte
	o[0], o[1], o[2], o[3] = g[3], g[2], g[1], g[0]
	o[4], o[5] = g[5], g[4]
	o[6], o[7] = g[7], g[6]
	copy(o[8:], g[8:])
	return o
}

// stableGUID derives a version-4-shaped GUID from seed, so the image has
// no random bytes.
func stableGUID(seed string) [16]byte {
	s := sha256.Sum256([]byte(seed))
	var g [16]byte
	copy(g[:], s[:16])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return guidBytes(g)
}

// basicData is the GPT type GUID "Microsoft basic data"
// EBD0A0A2-B9E5-4433-87C0-68B6B72699C7: a FAT partition.
var basicData = guidBytes([16]byte{0xeb, 0xd0, 0xa0, 0xa2, 0xb9, 0xe5, 0x44, 0x33, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7})

type gptPart struct {
	name       string
	first, end int64    // byte offsets, end exclusive, sector aligned
	typ        [16]byte // zero: linuxData
}

// writeGPT fills the protective MBR, the primary and backup GPT (UEFI
// 2.10 section 5.3.2, 5.3.3) into disk, whose length is the disk size.
func writeGPT(disk []byte, parts []gptPart, seed string) {
	lbas := int64(len(disk)) / sector
	// Protective MBR: one partition of type 0xEE over the whole disk.
	mbr := disk[:sector]
	pe := mbr[446:462]
	pe[1], pe[2], pe[3] = 0x00, 0x02, 0x00
	pe[4] = 0xee
	pe[5], pe[6], pe[7] = 0xff, 0xff, 0xff
	binary.LittleEndian.PutUint32(pe[8:], 1)
	n := lbas - 1
	if n > 0xffffffff {
		n = 0xffffffff
	}
	binary.LittleEndian.PutUint32(pe[12:], uint32(n))
	mbr[510], mbr[511] = 0x55, 0xaa

	entries := make([]byte, 128*128)
	for i, p := range parts {
		e := entries[i*128:]
		typ := p.typ
		if typ == ([16]byte{}) {
			typ = linuxData
		}
		copy(e[0:16], typ[:])
		g := stableGUID(seed + "/part/" + p.name)
		copy(e[16:32], g[:])
		binary.LittleEndian.PutUint64(e[32:], uint64(p.first/sector))
		binary.LittleEndian.PutUint64(e[40:], uint64(p.end/sector-1))
		for j, r := range utf16.Encode([]rune(p.name)) {
			if j < 36 {
				binary.LittleEndian.PutUint16(e[56+2*j:], r)
			}
		}
	}
	ecrc := crc32.ChecksumIEEE(entries)
	copy(disk[2*sector:], entries)
	copy(disk[(lbas-33)*sector:], entries)
	hdr := func(my, alt, entLBA int64) []byte {
		h := make([]byte, 92)
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000)
		binary.LittleEndian.PutUint32(h[12:], 92)
		binary.LittleEndian.PutUint64(h[24:], uint64(my))
		binary.LittleEndian.PutUint64(h[32:], uint64(alt))
		binary.LittleEndian.PutUint64(h[40:], 34)
		binary.LittleEndian.PutUint64(h[48:], uint64(lbas-34))
		g := stableGUID(seed + "/disk")
		copy(h[56:72], g[:])
		binary.LittleEndian.PutUint64(h[72:], uint64(entLBA))
		binary.LittleEndian.PutUint32(h[80:], 128)
		binary.LittleEndian.PutUint32(h[84:], 128)
		binary.LittleEndian.PutUint32(h[88:], ecrc)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
		return h
	}
	copy(disk[sector:], hdr(1, lbas-1, 2))
	copy(disk[(lbas-1)*sector:], hdr(lbas-1, 1, lbas-33))
}

// ReadGPT returns the partitions (name, byte offset, size) of a disk
// image's primary GPT, checking the header and entries CRCs.
func ReadGPT(disk []byte) ([]Partition, error) {
	if len(disk) < 34*sector || string(disk[sector:sector+8]) != "EFI PART" {
		return nil, ErrBadGPT
	}
	h := append([]byte(nil), disk[sector:sector+92]...)
	want := binary.LittleEndian.Uint32(h[16:])
	binary.LittleEndian.PutUint32(h[16:], 0)
	if crc32.ChecksumIEEE(h) != want {
		return nil, ErrBadGPT
	}
	entries := disk[2*sector : 2*sector+128*128]
	if crc32.ChecksumIEEE(entries) != binary.LittleEndian.Uint32(h[88:]) {
		return nil, ErrBadGPT
	}
	var out []Partition
	for i := range 128 {
		e := entries[i*128 : (i+1)*128]
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		if first == 0 {
			continue
		}
		var u []uint16
		for j := 0; j < 36; j++ {
			r := binary.LittleEndian.Uint16(e[56+2*j:])
			if r == 0 {
				break
			}
			u = append(u, r)
		}
		out = append(out, Partition{Name: string(utf16.Decode(u)), Offset: first * sector, Size: (last - first + 1) * sector})
	}
	return out, nil
}

// Partition is a partition found by ReadGPT.
type Partition struct {
	Name         string
	Offset, Size int64
}

// writeHybridMBR turns the protective MBR into a hybrid one for the
// Raspberry Pi, whose boot ROM (Pi 3 and older) reads only an MBR and
// boots from a FAT partition of type 0x0C (FAT32, LBA) it lists:
//
//	entry 1  type 0x0C  the boot partition (the GPT's first)
//	entry 2  type 0xEE  LBA 1 up to the boot partition: the GPT itself
//
// Linux still reads the GPT (block/partitions/efi.c accepts a hybrid
// MBR: an 0xEE entry starting at LBA 1), so partitions keep their GPT
// names. The Pi 4's EEPROM bootloader reads the MBR entry too. CHS
// fields hold the "beyond CHS" marker (LBA only). The disk signature is
// derived from seed.
func writeHybridMBR(disk []byte, boot gptPart, seed string) {
	mbr := disk[:sector]
	clear(mbr[440:510])
	g := stableGUID(seed + "/mbr")
	copy(mbr[440:444], g[:4])
	entry := func(i int, typ byte, first, count int64) {
		e := mbr[446+16*i : 446+16*(i+1)]
		e[1], e[2], e[3] = 0xfe, 0xff, 0xff
		e[4] = typ
		e[5], e[6], e[7] = 0xfe, 0xff, 0xff
		binary.LittleEndian.PutUint32(e[8:], uint32(first))
		binary.LittleEndian.PutUint32(e[12:], uint32(count))
	}
	entry(0, 0x0c, boot.first/sector, (boot.end-boot.first)/sector)
	entry(1, 0xee, 1, boot.first/sector-1)
	mbr[510], mbr[511] = 0x55, 0xaa
}

// MBRPartition is an entry of a disk's MBR.
type MBRPartition struct {
	Type         byte
	Offset, Size int64 // bytes
}

// ReadMBR returns the used entries of a disk image's MBR.
func ReadMBR(disk []byte) ([]MBRPartition, error) {
	if len(disk) < sector || disk[510] != 0x55 || disk[511] != 0xaa {
		return nil, ErrBadMBR
	}
	var out []MBRPartition
	for i := range 4 {
		e := disk[446+16*i : 446+16*(i+1)]
		if e[4] == 0 {
			continue
		}
		out = append(out, MBRPartition{Type: e[4], Offset: int64(binary.LittleEndian.Uint32(e[8:])) * sector,
			Size: int64(binary.LittleEndian.Uint32(e[12:])) * sector})
	}
	return out, nil
}
