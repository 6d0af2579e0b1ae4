package media

// Direction is the media direction of the session from our side
// (RFC 3264 §5.1, §6.1). The zero value is SendRecv.
type Direction int

const (
	SendRecv Direction = iota // send and receive audio
	SendOnly                  // send only (we hold the far end: we play music or nothing)
	RecvOnly                  // receive only (the far end holds us)
	Inactive                  // neither
)

// String returns the SDP attribute name.
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "direction?"
}

// CanSend reports whether audio may be sent.
func (d Direction) CanSend() bool { return d == SendRecv || d == SendOnly }

// CanReceive reports whether received audio is played.
func (d Direction) CanReceive() bool { return d == SendRecv || d == RecvOnly }
