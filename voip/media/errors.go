package media

import "errors"

var (
	// ErrNoConn is returned by New without Config.Conn.
	ErrNoConn = errors.New("media: Config.Conn is required")
	// ErrNoCodec is returned by New without Config.Codec.
	ErrNoCodec = errors.New("media: Config.Codec is required")
	// ErrBadConfig is returned by New for an out-of-range setting.
	ErrBadConfig = errors.New("media: bad config")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("media: session closed")
	// ErrNoDTMF is returned by SendDTMF when no telephone-event payload
	// type was negotiated.
	ErrNoDTMF = errors.New("media: no RFC 4733 payload type negotiated")
	// ErrBadDigit is returned by SendDTMF for a character that is not a
	// DTMF digit.
	ErrBadDigit = errors.New("media: not a DTMF digit")
	// ErrNotSending is returned by SendDTMF when the direction does not
	// allow sending.
	ErrNotSending = errors.New("media: direction does not allow sending")
	// ErrShortDTMF is returned for an RFC 4733 payload under 4 bytes.
	ErrShortDTMF = errors.New("media: short telephone-event payload")
	// ErrBadCN is wrapped by ParseCN for a payload that is not RFC 3389
	// comfort noise.
	ErrBadCN = errors.New("media: bad comfort-noise payload")
)
