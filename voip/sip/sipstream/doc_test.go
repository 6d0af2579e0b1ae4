package sipstream_test

import (
	"net"
	"time"

	"github.com/deskphone/phone/voip/sip/sipstream"
)

// A SIP server's TCP listener, capped and with timeouts, ready to give to
// sipgo's ServeTCP.
func ExampleListener() {
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return
	}
	l := &sipstream.Listener{Listener: raw, MaxConns: 256, MaxPerAddr: 16,
		MessageTimeout: 10 * time.Second, IdleTimeout: 10 * time.Minute}
	defer l.Close()
	// srv.ServeTCP(l)
	// Output:
}
