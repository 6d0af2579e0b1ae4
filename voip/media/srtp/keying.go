package srtp

import "github.com/deskphone/phone/voip/sdp"

// NewKeyed builds a Session like New for keys agreed by another method
// than SDES: keying names it in Stats ("dtls" for keys exported from a
// DTLS-SRTP handshake, voip/media/dtlssrtp).
func NewKeyed(k sdp.SRTP, keying string) (*Session, error) {
	s, err := New(k)
	if err != nil {
		return nil, err
	}
	s.stats.Keying = keying
	return s, nil
}
