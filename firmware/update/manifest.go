package update

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ManifestVersion is the format version written into manifests.
const ManifestVersion = 1

// Kinds of manifest.
const (
	KindUpdate = "update" // describes a bundle: one part, "root"
	KindImage  = "image"  // describes a disk image: boot, rootA, rootB, data
)

// Part is one piece of an image or update: a partition or a slot.
type Part struct {
	Name string `json:"name"`
	// Offset is where the part starts in the disk image (0 in a bundle).
	Offset int64 `json:"offset"`
	// Size is the part's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lower-case hex SHA-256 of the part's bytes; empty for
	// a part whose content is not fixed (the data partition).
	SHA256 string `json:"sha256,omitempty"`
}

// Manifest describes a signed image or update.
type Manifest struct {
	Format  int    `json:"format"`
	Kind    string `json:"kind"`
	Board   string `json:"board"`
	Version string `json:"version"`
	// BuildTime is the build's Unix time in seconds, from
	// SOURCE_DATE_EPOCH when set.
	BuildTime int64  `json:"build_time"`
	Parts     []Part `json:"parts"`
}

// Part returns the part named name.
func (m *Manifest) Part(name string) (Part, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// Marshal returns the manifest's canonical encoding: indented JSON with a
// trailing newline. The same manifest always gives the same bytes.
func (m *Manifest) Marshal() []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		// Only strings, integers and slices of them: cannot fail.
		panic(err)
	}
	return append(b, '\n')
}

// ParseManifest parses and checks a manifest.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the fields every manifest needs.
func (m *Manifest) Validate() error {
	switch {
	case m.Format != ManifestVersion:
		return fmt.Errorf("%w: format %d, want %d", ErrBadManifest, m.Format, ManifestVersion)
	case m.Kind != KindUpdate && m.Kind != KindImage:
		return fmt.Errorf("%w: kind %q", ErrBadManifest, m.Kind)
	case m.Board == "":
		return fmt.Errorf("%w: no board", ErrBadManifest)
	case m.Version == "":
		return fmt.Errorf("%w: no version", ErrBadManifest)
	case len(m.Parts) == 0:
		return fmt.Errorf("%w: no parts", ErrBadManifest)
	}
	seen := map[string]bool{}
	for _, p := range m.Parts {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("%w: part name %q empty or repeated", ErrBadManifest, p.Name)
		}
		seen[p.Name] = true
		if p.Size < 0 || p.Offset < 0 {
			return fmt.Errorf("%w: part %s: negative size or offset", ErrBadManifest, p.Name)
		}
		if p.SHA256 != "" {
			if d, err := hex.DecodeString(p.SHA256); err != nil || len(d) != 32 || strings.ToLower(p.SHA256) != p.SHA256 {
				return fmt.Errorf("%w: part %s: sha256 %q", ErrBadManifest, p.Name, p.SHA256)
			}
		}
	}
	if m.Kind == KindUpdate {
		p, ok := m.Part("root")
		if !ok || p.SHA256 == "" {
			return fmt.Errorf("%w: an update needs a root part with a sha256", ErrBadManifest)
		}
	}
	return nil
}

// Sign signs a manifest's bytes.
func Sign(key ed25519.PrivateKey, manifest []byte) []byte {
	return ed25519.Sign(key, manifest)
}

// Verify checks sig over manifest with pub and returns the parsed
// manifest. Nothing in an unverified manifest is trusted, so the
// signature is checked before the manifest is parsed.
func Verify(pub ed25519.PublicKey, manifest, sig []byte) (*Manifest, error) {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, manifest, sig) {
		return nil, ErrBadSignature
	}
	return ParseManifest(manifest)
}

// GenerateKey makes a new key pair from rand (crypto/rand when nil) and
// returns both halves PEM-encoded.
func GenerateKey(r io.Reader) (privPEM, pubPEM []byte, err error) {
	if r == nil {
		r = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}

// ParsePrivateKey reads a PEM "PRIVATE KEY" (PKCS #8) ed25519 key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PEM PRIVATE KEY block", ErrBadKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrBadKey)
	}
	return ek, nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) ed25519 key.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: no PEM PUBLIC KEY block", ErrBadKey)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrBadKey)
	}
	return ek, nil
}

// BuildTime returns the build time from a SOURCE_DATE_EPOCH value (see
// reproducible-builds.org), or now when it is empty.
func BuildTime(sourceDateEpoch string, now func() time.Time) (int64, error) {
	if sourceDateEpoch == "" {
		return now().Unix(), nil
	}
	t, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
	if err != nil || t < 0 {
		return 0, fmt.Errorf("update: SOURCE_DATE_EPOCH %q: not a Unix time", sourceDateEpoch)
	}
	return t, nil
}

// Newer reports whether candidate (version cv, built at ct) is newer than
// running (rv, rt). Versions of the form [v]MAJOR.MINOR.PATCH[-pre][+meta]
// compare numerically (a pre-release is older than its release); anything
// else (a git hash) is ordered by build time. Equal versions are not newer.
func Newer(cv string, ct int64, rv string, rt int64) bool {
	a, aok := parseSemver(cv)
	b, bok := parseSemver(rv)
	if aok && bok {
		for i := range 3 {
			if a.n[i] != b.n[i] {
				return a.n[i] > b.n[i]
			}
		}
		if a.pre != b.pre {
			switch {
			case a.pre == "":
				return true
			case b.pre == "":
				return false
			default:
				return comparePre(a.pre, b.pre) > 0
			}
		}
		return false
	}
	if cv == rv {
		return false
	}
	return ct > rt
}

// comparePre orders two pre-release strings as SemVer 2.0 §11 does:
// dot-separated identifiers from the left, numeric ones as numbers and
// below alphanumeric ones, and a shorter list below a longer one it
// begins. Lexical order put rc.9 above rc.10, so an older signed
// pre-release passed the version floor and a newer one was refused.
func comparePre(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(as), len(bs)) {
		x, y := as[i], bs[i]
		xn, xerr := strconv.ParseUint(x, 10, 64)
		yn, yerr := strconv.ParseUint(y, 10, 64)
		switch {
		case xerr == nil && yerr == nil:
			if c := cmp.Compare(xn, yn); c != 0 {
				return c
			}
		case xerr == nil:
			return -1
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(as), len(bs))
}

type semver struct {
	n   [3]uint64
	pre string
}

func parseSemver(s string) (semver, bool) {
	var v semver
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, v.pre = s[:i], s[i+1:]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, false
		}
		v.n[i] = n
	}
	return v, true
}
