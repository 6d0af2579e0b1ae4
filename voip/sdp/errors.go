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
