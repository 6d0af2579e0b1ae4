package pbx

import "errors"

// Errors returned by New and Start; wrapped with context, test with
// errors.Is.
var (
	// ErrConfig means a Config field is invalid.
	ErrConfig = errors.New("pbx: bad config")
	// ErrClosed means the server was closed.
	ErrClosed = errors.New("pbx: closed")
	// ErrStarted means Start was called twice.
	ErrStarted = errors.New("pbx: already started")
)
