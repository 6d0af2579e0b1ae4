package update

import "errors"

var (
	// ErrBadSignature is returned when a signature does not verify.
	ErrBadSignature = errors.New("update: bad signature")
	// ErrBadManifest is returned for a manifest that cannot be parsed or
	// misses a required field.
	ErrBadManifest = errors.New("update: bad manifest")
	// ErrBadBundle is returned for a stream that is not a bundle.
	ErrBadBundle = errors.New("update: not an update bundle")
	// ErrWrongBoard is returned for an update built for another board.
	ErrWrongBoard = errors.New("update: wrong board")
	// ErrDowngrade is returned for an update older than the running
	// version when downgrades are not allowed.
	ErrDowngrade = errors.New("update: downgrade refused")
	// ErrBelowFloor is returned for an update older than the version
	// floor (the last committed build), allow-downgrade or not.
	ErrBelowFloor = errors.New("update: older than the last committed build")
	// ErrBodyTimeout is returned when a push's body stalls or takes
	// longer than the agent allows.
	ErrBodyTimeout = errors.New("update: body too slow")
	// ErrTruncated is returned when the payload ends before its size.
	ErrTruncated = errors.New("update: truncated payload")
	// ErrTooLong is returned when the payload is longer than its size.
	ErrTooLong = errors.New("update: payload longer than the manifest says")
	// ErrDigest is returned when the payload's SHA-256 differs from the
	// manifest.
	ErrDigest = errors.New("update: sha256 mismatch")
	// ErrTooLarge is returned when a payload does not fit the slot.
	ErrTooLarge = errors.New("update: payload larger than the slot")
	// ErrTrialPending is returned for a push while the running slot is
	// on trial and not yet committed.
	ErrTrialPending = errors.New("update: the running slot is on trial")
	// ErrUnauthorized is returned for a missing or wrong device token.
	ErrUnauthorized = errors.New("update: unauthorized")
	// ErrBadKey is returned for a key file that cannot be parsed.
	ErrBadKey = errors.New("update: bad key")
	// ErrBadState is returned for an A/B state record that cannot be
	// parsed or names an unknown slot.
	ErrBadState = errors.New("update: bad A/B state")
)
