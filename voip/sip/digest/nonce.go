package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// DefaultNonceLifetime is how long a nonce from a Nonces stays fresh when
// no lifetime is given.
const DefaultNonceLifetime = 5 * time.Minute

// Nonces issues and checks server nonces without keeping state (RFC 7616
// §3.3 suggests a nonce of time-stamp and a keyed hash). A nonce is
//
//	base64url( timestamp (8 bytes, Unix ns, big-endian)
//	         | random    (16 bytes)
//	         | HMAC-SHA-256(key, timestamp | random)[:16] )
//
// so the server can tell a nonce it issued (valid) from a forged one, and
// an expired one (stale, answered with stale=true, RFC 7616 §3.3) from a
// fresh one. Replay within the lifetime is not detected here; a server
// that wants that tracks nonce counts itself.
type Nonces struct {
	key      []byte
	lifetime time.Duration
	// Now returns the current time; nil means time.Now. Set it before use.
	Now func() time.Time
}

const (
	nonceTSLen   = 8
	nonceRandLen = 16
	nonceMACLen  = 16
	nonceLen     = nonceTSLen + nonceRandLen + nonceMACLen
	// nonceSkew is how far in the future a timestamp may lie.
	nonceSkew = 5 * time.Second
)

// NewNonces returns a nonce issuer with the given HMAC key (nil or empty
// means a random 32-byte key) and lifetime (0 means DefaultNonceLifetime).
func NewNonces(key []byte, lifetime time.Duration) *Nonces {
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	} else {
		key = append([]byte(nil), key...)
	}
	if lifetime <= 0 {
		lifetime = DefaultNonceLifetime
	}
	return &Nonces{key: key, lifetime: lifetime}
}

// Lifetime returns how long a nonce stays fresh.
func (n *Nonces) Lifetime() time.Duration { return n.lifetime }

func (n *Nonces) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Nonces) mac(b []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write(b)
	return m.Sum(nil)[:nonceMACLen]
}

// New returns a fresh nonce.
func (n *Nonces) New() string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:nonceTSLen], uint64(n.now().UnixNano()))
	rand.Read(b[nonceTSLen : nonceTSLen+nonceRandLen])
	copy(b[nonceTSLen+nonceRandLen:], n.mac(b[:nonceTSLen+nonceRandLen]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Check reports whether nonce was issued by n (valid) and, if so, whether
// it is older than the lifetime (stale). A server answers a valid, stale
// nonce with a new challenge carrying stale=true, and an invalid one with
// a plain new challenge.
func (n *Nonces) Check(nonce string) (valid, stale bool) {
	if base64.RawURLEncoding.DecodedLen(len(nonce)) != nonceLen {
		return false, false
	}
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen {
		return false, false
	}
	if !hmac.Equal(b[nonceTSLen+nonceRandLen:], n.mac(b[:nonceTSLen+nonceRandLen])) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:nonceTSLen])))
	now := n.now()
	if issued.After(now.Add(nonceSkew)) {
		return false, false
	}
	return true, now.Sub(issued) > n.lifetime
}

// Challenge returns a challenge with a fresh nonce from n, qop=auth and a
// random opaque. algorithm "" leaves the parameter out (MD5).
func (n *Nonces) Challenge(realm, algorithm string, stale bool) *Challenge {
	return &Challenge{
		Realm:     realm,
		Nonce:     n.New(),
		Opaque:    NewCnonce(),
		Algorithm: canonicalAlgorithm(algorithm),
		QOP:       []string{"auth"},
		Stale:     stale,
	}
}

var (
	defaultNoncesOnce sync.Once
	defaultNonces     *Nonces
)

func defaults() *Nonces {
	defaultNoncesOnce.Do(func() { defaultNonces = NewNonces(nil, 0) })
	return defaultNonces
}

// NewChallenge returns a server challenge for realm with an unguessable
// nonce from a process-wide Nonces (random key, DefaultNonceLifetime), so
// CheckNonce can later tell whether a nonce is genuine and fresh.
// algorithm "" means MD5 and leaves the parameter out.
func NewChallenge(realm string, algorithm string, stale bool) *Challenge {
	return defaults().Challenge(realm, algorithm, stale)
}

// CheckNonce is Nonces.Check for the nonces made by NewChallenge.
func CheckNonce(nonce string) (valid, stale bool) {
	return defaults().Check(nonce)
}
