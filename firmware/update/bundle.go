package update

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"io"
)

// BundleMagic starts every bundle.
const BundleMagic = "DPUPD01\n"

// MaxManifest is the largest manifest a bundle may carry.
const MaxManifest = 64 << 10

// WriteBundleHeader writes a bundle's header (magic, manifest, signature);
// the payload follows it.
func WriteBundleHeader(w io.Writer, manifest, sig []byte) error {
	if len(manifest) > MaxManifest {
		return fmt.Errorf("%w: manifest of %d bytes", ErrBadManifest, len(manifest))
	}
	if len(sig) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	hdr := make([]byte, 0, 12+len(manifest)+len(sig))
	hdr = append(hdr, BundleMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(manifest)))
	hdr = append(hdr, manifest...)
	hdr = append(hdr, sig...)
	_, err := w.Write(hdr)
	return err
}

// BundleHeaderSize is the number of bytes before the payload of a bundle
// whose manifest is n bytes long.
func BundleHeaderSize(n int) int64 { return int64(12 + n + ed25519.SignatureSize) }

// ReadBundleHeader reads a bundle's header from r, leaving r at the
// payload. It checks the framing only; Verify checks the signature.
func ReadBundleHeader(r io.Reader) (manifest, sig []byte, err error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrBadBundle, err)
	}
	if string(hdr[:8]) != BundleMagic {
		return nil, nil, fmt.Errorf("%w: bad magic", ErrBadBundle)
	}
	n := binary.BigEndian.Uint32(hdr[8:])
	if n == 0 || n > MaxManifest {
		return nil, nil, fmt.Errorf("%w: manifest length %d", ErrBadBundle, n)
	}
	buf := make([]byte, int(n)+ed25519.SignatureSize)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, fmt.Errorf("%w: manifest: %w", ErrBadBundle, err)
	}
	return buf[:n], buf[n:], nil
}
