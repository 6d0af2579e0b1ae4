package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The data partition's filesystem is ext4 with a journal, made here in
// Go on first boot (no mke2fs in the image). The layout is the smallest
// the kernel's ext4 driver accepts with a journal: one block group of
// 4 KiB blocks (so at most 128 MiB), no metadata checksums (no crc32c
// module needed), extents for the journal and the root directory.
//
//	block 0          boot padding (1024 bytes), superblock at 1024
//	block 1          group descriptor (32 bytes)
//	block 2          block bitmap
//	block 3          inode bitmap
//	block 4..        inode table (inodesPerGroup * 256 bytes)
//	next             root directory (one block)
//	next             lost+found (one block)
//	next 1024        jbd2 journal (inode 8), superblock v2 in its block 0
//
// References: Documentation/filesystems/ext4/{globals,group_descr,
// inodes,directory,journal}.rst in the Linux source.

const (
	ext4BlockSize     = 4096
	ext4InodeSize     = 256
	ext4Magic         = 0xEF53
	ext4JournalBlocks = 1024 // JBD2_MIN_JOURNAL_BLOCKS
	ext4MaxBlocks     = 8 * ext4BlockSize
	ext4RootIno       = 2
	ext4JournalIno    = 8
	ext4LostFoundIno  = 11
	ext4FirstIno      = 11

	ext4CompatHasJournal   = 0x4
	ext4IncompatFiletype   = 0x2
	ext4IncompatExtents    = 0x40
	ext4ROCompatSparse     = 0x1
	ext4ROCompatLargeFile  = 0x2
	ext4InodeExtentsFlag   = 0x80000
	ext4ExtentMagic        = 0xF30A
	jbd2Magic              = 0xC03B3998
	jbd2SuperblockV2       = 4
	ext4MinPartitionBlocks = 4 + ext4JournalBlocks + 64
)

// Options describe a filesystem Format makes.
type Options struct {
	// Label is the volume name (at most 16 bytes).
	Label string
	// UUID is the filesystem's UUID (random on a phone; fixed in tests).
	UUID [16]byte
	// Time is the creation time (Unix seconds) written into the
	// superblock and the inodes.
	Time uint32
}

// Format writes an empty journalled ext4 filesystem of size bytes
// (rounded down to 4 KiB blocks) to w, from offset 0. The size must be at
// least 4.3 MiB and at most 128 MiB. Every metadata block is written, so
// w need not be zeroed first; data blocks are left as they are.
func Format(w io.WriterAt, size int64, o Options) error {
	blocks := size / ext4BlockSize
	if blocks < ext4MinPartitionBlocks || blocks > ext4MaxBlocks {
		return fmt.Errorf("%w: %d bytes (want %d..%d)", ErrSize, size, ext4MinPartitionBlocks*ext4BlockSize, ext4MaxBlocks*ext4BlockSize)
	}
	if len(o.Label) > 16 {
		return fmt.Errorf("%w: label %q longer than 16 bytes", ErrSize, o.Label)
	}
	// One inode per 16 KiB, rounded to fill whole inode-table blocks.
	perBlock := int64(ext4BlockSize / ext4InodeSize)
	inodes := max(blocks/4, 64)
	inodes = (inodes + perBlock - 1) / perBlock * perBlock
	itBlocks := inodes / perBlock
	const (
		gdtBlock, bbBlock, ibBlock, itBlock = 1, 2, 3, 4
	)
	rootBlock := itBlock + itBlocks
	lfBlock := rootBlock + 1
	jBlock := lfBlock + 1
	used := jBlock + ext4JournalBlocks
	if used > blocks {
		return fmt.Errorf("%w: %d blocks do not hold the metadata and journal", ErrSize, blocks)
	}
	le := binary.LittleEndian
	be := binary.BigEndian

	// Superblock.
	sb := make([]byte, ext4BlockSize)
	s := sb[1024:]
	le.PutUint32(s[0:], uint32(inodes))
	le.PutUint32(s[4:], uint32(blocks))
	le.PutUint32(s[12:], uint32(blocks-used))
	le.PutUint32(s[16:], uint32(inodes-ext4LostFoundIno))
	le.PutUint32(s[20:], 0) // first data block
	le.PutUint32(s[24:], 2) // log2(block size) - 10
	le.PutUint32(s[28:], 2)
	le.PutUint32(s[32:], ext4MaxBlocks) // blocks per group
	le.PutUint32(s[36:], ext4MaxBlocks) // clusters per group
	le.PutUint32(s[40:], uint32(inodes))
	le.PutUint32(s[48:], o.Time) // write time
	le.PutUint16(s[54:], 0xFFFF) // max mount count: never force a check
	le.PutUint16(s[56:], ext4Magic)
	le.PutUint16(s[58:], 1) // state: clean
	le.PutUint16(s[60:], 1) // errors: continue
	le.PutUint32(s[64:], o.Time)
	le.PutUint32(s[76:], 1) // dynamic revision
	le.PutUint32(s[84:], ext4FirstIno)
	le.PutUint16(s[88:], ext4InodeSize)
	le.PutUint32(s[92:], ext4CompatHasJournal)
	le.PutUint32(s[96:], ext4IncompatFiletype|ext4IncompatExtents)
	le.PutUint32(s[100:], ext4ROCompatSparse|ext4ROCompatLargeFile)
	copy(s[104:120], o.UUID[:])
	copy(s[120:136], o.Label)
	le.PutUint32(s[224:], ext4JournalIno)
	le.PutUint32(s[264:], o.Time) // mkfs time
	le.PutUint16(s[0x15C:], 32)   // min extra isize
	le.PutUint16(s[0x15E:], 32)   // want extra isize
	le.PutUint32(s[0x160:], 0x2)  // flags: unsigned directory hash
	s[0xFD] = 1                   // s_jnl_backup_type: copy of i_block
	jnl := journalIBlock(uint32(jBlock))
	copy(s[0x10C:], jnl)            // s_jnl_blocks[0..14]
	le.PutUint32(s[0x10C+15*4:], 0) // i_size_high
	le.PutUint32(s[0x10C+16*4:], ext4JournalBlocks*ext4BlockSize)

	// Group descriptor.
	gd := make([]byte, ext4BlockSize)
	le.PutUint32(gd[0:], bbBlock)
	le.PutUint32(gd[4:], ibBlock)
	le.PutUint32(gd[8:], uint32(itBlock))
	le.PutUint16(gd[12:], uint16(blocks-used))
	le.PutUint16(gd[14:], uint16(inodes-ext4LostFoundIno))
	le.PutUint16(gd[16:], 2) // directories: root, lost+found

	// Bitmaps: used blocks and inodes, and the padding past the end of
	// the group set as the kernel expects.
	bb := make([]byte, ext4BlockSize)
	setBits(bb, 0, used)
	setBits(bb, blocks, ext4BlockSize*8)
	ib := make([]byte, ext4BlockSize)
	setBits(ib, 0, ext4LostFoundIno)
	setBits(ib, inodes, ext4BlockSize*8)

	// Inode table.
	it := make([]byte, itBlocks*ext4BlockSize)
	inode := func(ino int) []byte { return it[(ino-1)*ext4InodeSize : ino*ext4InodeSize] }
	putInode := func(b []byte, mode uint16, links uint16, size int64, nblocks int64, iblock []byte) {
		le.PutUint16(b[0:], mode)
		le.PutUint32(b[4:], uint32(size))
		le.PutUint32(b[8:], o.Time)
		le.PutUint32(b[12:], o.Time)
		le.PutUint32(b[16:], o.Time)
		le.PutUint16(b[26:], links)
		le.PutUint32(b[28:], uint32(nblocks*ext4BlockSize/512))
		le.PutUint32(b[32:], ext4InodeExtentsFlag)
		copy(b[40:100], iblock)
		le.PutUint32(b[108:], uint32(size>>32))
		le.PutUint16(b[128:], 32) // i_extra_isize
	}
	putInode(inode(ext4RootIno), 0o040755, 3, ext4BlockSize, 1, extentIBlock(0, uint32(rootBlock), 1))
	putInode(inode(ext4LostFoundIno), 0o040700, 2, ext4BlockSize, 1, extentIBlock(0, uint32(lfBlock), 1))
	putInode(inode(ext4JournalIno), 0o100600, 1, ext4JournalBlocks*ext4BlockSize, ext4JournalBlocks, jnl)

	// Directories.
	root := make([]byte, ext4BlockSize)
	off := putDirent(root, 0, ext4RootIno, ".", 12)
	off = putDirent(root, off, ext4RootIno, "..", 12)
	putDirent(root, off, ext4LostFoundIno, "lost+found", ext4BlockSize-off)
	lf := make([]byte, ext4BlockSize)
	off = putDirent(lf, 0, ext4LostFoundIno, ".", 12)
	putDirent(lf, off, ext4RootIno, "..", ext4BlockSize-off)

	// Journal superblock (big endian), the rest of the journal zeroed so
	// no stale block looks like a transaction.
	jsb := make([]byte, ext4BlockSize)
	be.PutUint32(jsb[0:], jbd2Magic)
	be.PutUint32(jsb[4:], jbd2SuperblockV2)
	be.PutUint32(jsb[12:], ext4BlockSize)
	be.PutUint32(jsb[16:], ext4JournalBlocks)
	be.PutUint32(jsb[20:], 1) // first log block
	be.PutUint32(jsb[24:], 1) // expected sequence
	be.PutUint32(jsb[28:], 0) // s_start 0: the journal is empty
	copy(jsb[48:64], o.UUID[:])
	be.PutUint32(jsb[64:], 1) // one user: this filesystem
	copy(jsb[0x100:0x110], o.UUID[:])

	writes := []struct {
		block int64
		b     []byte
	}{
		{0, sb}, {gdtBlock, gd}, {bbBlock, bb}, {ibBlock, ib}, {itBlock, it},
		{rootBlock, root}, {lfBlock, lf}, {jBlock, jsb},
	}
	for _, wr := range writes {
		if _, err := w.WriteAt(wr.b, wr.block*ext4BlockSize); err != nil {
			return fmt.Errorf("ext4: mkfs: %w", err)
		}
	}
	zero := make([]byte, 64*ext4BlockSize)
	for b := jBlock + 1; b < jBlock+ext4JournalBlocks; b += 64 {
		n := min(int64(64), jBlock+ext4JournalBlocks-b)
		if _, err := w.WriteAt(zero[:n*ext4BlockSize], b*ext4BlockSize); err != nil {
			return fmt.Errorf("ext4: mkfs: %w", err)
		}
	}
	return nil
}

// extentIBlock returns an inode's i_block holding an extent tree of depth
// 0 with one extent: len blocks from physical block start at logical
// block logical.
func extentIBlock(logical, start uint32, n uint16) []byte {
	b := make([]byte, 60)
	le := binary.LittleEndian
	le.PutUint16(b[0:], ext4ExtentMagic)
	le.PutUint16(b[2:], 1) // entries
	le.PutUint16(b[4:], 4) // max entries in the inode
	le.PutUint16(b[6:], 0) // depth
	le.PutUint32(b[12:], logical)
	le.PutUint16(b[16:], n)
	le.PutUint16(b[18:], 0)
	le.PutUint32(b[20:], start)
	return b
}

func journalIBlock(start uint32) []byte { return extentIBlock(0, start, ext4JournalBlocks) }

// putDirent writes an ext4_dir_entry_2 at off and returns the offset after
// it (off+recLen).
func putDirent(b []byte, off int64, ino uint32, name string, recLen int64) int64 {
	le := binary.LittleEndian
	le.PutUint32(b[off:], ino)
	le.PutUint16(b[off+4:], uint16(recLen))
	b[off+6] = byte(len(name))
	b[off+7] = 2 // directory
	copy(b[off+8:], name)
	return off + recLen
}

// setBits sets bits [from, to) of a bitmap.
func setBits(b []byte, from, to int64) {
	for i := from; i < to; i++ {
		b[i/8] |= 1 << (i % 8)
	}
}

// Detect reports whether r holds an ext4 (or ext2/3) superblock.
func Detect(r io.ReaderAt) bool {
	var m [2]byte
	if _, err := r.ReadAt(m[:], 1024+56); err != nil {
		return false
	}
	return binary.LittleEndian.Uint16(m[:]) == ext4Magic
}
