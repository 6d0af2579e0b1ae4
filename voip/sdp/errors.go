package sdp

import (
	"errors"
	"fmt"
)

var (
	// ErrSyntax is wrapped by every *ParseError.
	ErrSyntax = errors.New("sdp: syntax error")
	// ErrNoCommonCodec means no offered audio stream shares a codec with
	// us (or all were rejected); a UAS answers 488 Not Acceptable Here.
	ErrNoCommonCodec = errors.New("sdp: no common codec")
	// ErrMismatch means an answer does not fit its offer (RFC 3264 §6:
	// the answer has as many m-lines as the offer, in the same order).
	ErrMismatch = errors.New("sdp: answer does not match offer")
	// ErrNoAddress means the chosen stream has no usable IP connection
	// address (no c= line, or a host name).
	ErrNoAddress = errors.New("sdp: no connection address")
	// ErrCrypto is wrapped by a *CryptoError for an a=crypto line that is
	// malformed or asks for what we do not implement (RFC 4568).
	ErrCrypto = errors.New("sdp: bad crypto attribute")
	// ErrUnknownSuite is wrapped by a *CryptoError for a crypto suite we
	// do not support; such a line is skipped in favour of another.
	ErrUnknownSuite = errors.New("sdp: unsupported crypto suite")
	// ErrInsecure means the SRTP policy refuses the description: a plain
	// offer or answer where SRTP is required, an RTP/SAVP offer with SRTP
	// off, or no a=crypto line we can use. A UAS answers 488.
	ErrInsecure = errors.New("sdp: media security refused")
)

// ParseError reports a bad line.
type ParseError struct {
	Line int    // 1-based line number
	Text string // the line, possibly shortened
	Msg  string // what is wrong
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("sdp: line %d: %s: %q", e.Line, e.Msg, e.Text)
}

// Unwrap returns ErrSyntax.
func (e *ParseError) Unwrap() error { return ErrSyntax }
