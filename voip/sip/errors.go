package sip

import "errors"

var (
	// ErrClosed means the user agent was closed.
	ErrClosed = errors.New("sip: user agent closed")
	// ErrNotStarted means Start has not been called yet.
	ErrNotStarted = errors.New("sip: user agent not started")
	// ErrBadConfig means the configuration is invalid.
	ErrBadConfig = errors.New("sip: bad config")
	// ErrBadTarget means a dial target could not be parsed as a SIP URI.
	ErrBadTarget = errors.New("sip: bad target")
	// ErrAuthFailed means the server rejected our credentials (a second
	// challenge for the same nonce, or 403 after authenticating).
	ErrAuthFailed = errors.New("sip: authentication failed")
	// ErrCallState means the call is not in a state that allows the
	// operation (for example Answer on an outgoing call).
	ErrCallState = errors.New("sip: operation not allowed in this call state")
	// ErrPending means another offer/answer exchange is in progress.
	ErrPending = errors.New("sip: request pending")
	// ErrNoMedia means the call has no negotiated media yet.
	ErrNoMedia = errors.New("sip: no media")
	// ErrTimeout means a transaction or timer expired.
	ErrTimeout = errors.New("sip: timeout")
)
