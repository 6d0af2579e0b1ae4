package dtlssrtp_test

import (
	"fmt"
	"net"

	"github.com/deskphone/phone/voip/media/dtlssrtp"
	"github.com/deskphone/phone/voip/sdp"
)

// A phone's certificate goes into its SDP as a=fingerprint; a Transport
// on the call's media socket then runs the handshake in the role the
// offer/answer gave and checks the peer against its fingerprints.
func Example() {
	cert, err := dtlssrtp.NewCertificate()
	if err != nil {
		panic(err)
	}
	fmt.Println(cert.Fingerprint().Hash)

	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	defer sock.Close()
	peer, _ := sdp.ParseFingerprint("sha-256 " + "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89")
	t, err := dtlssrtp.New(dtlssrtp.Config{
		Conn:         sock,
		Role:         sdp.SetupPassive, // wait for the peer's ClientHello
		Fingerprints: []sdp.Fingerprint{peer},
		Certificate:  cert,
	})
	if err != nil {
		panic(err)
	}
	// The media session would read t.Conn() and use t as its Protector.
	_, err = t.ProtectRTP(nil, []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1})
	fmt.Println(err)
	t.Close()
	fmt.Println(t.Err())
	// Output:
	// sha-256
	// dtlssrtp: handshake not finished: media: srtp keys not agreed yet
	// dtlssrtp: closed
}
