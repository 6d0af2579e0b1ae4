package digest

import "errors"

// Errors returned by the parsers and by Respond. They are wrapped with
// context; test with errors.Is.
var (
	// ErrNotDigest means the header value does not use the Digest scheme
	// (for instance Basic, which SIP forbids, RFC 8760 §2.6).
	ErrNotDigest = errors.New("digest: not a Digest header")
	// ErrSyntax means the header value is malformed.
	ErrSyntax = errors.New("digest: syntax error")
	// ErrMissingParam means a mandatory parameter is absent.
	ErrMissingParam = errors.New("digest: missing parameter")
	// ErrUnsupportedAlgorithm means the algorithm parameter names a hash
	// this package does not implement. RFC 8760 §2.4: a UAC MUST ignore
	// such a challenge.
	ErrUnsupportedAlgorithm = errors.New("digest: unsupported algorithm")
	// ErrUnsupportedQOP means the challenge offers only qop values this
	// package does not implement.
	ErrUnsupportedQOP = errors.New("digest: unsupported qop")
	// ErrNoChallenge means none of several challenges could be answered.
	ErrNoChallenge = errors.New("digest: no supported challenge")
)
