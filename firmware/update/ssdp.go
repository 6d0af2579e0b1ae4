package update

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
)

// SSDP discovery (UPnP Device Architecture 2.0, section 1.3): a tool sends
// an M-SEARCH to 239.255.255.250:1900 and each phone answers, unicast,
//
//	HTTP/1.1 200 OK
//	CACHE-CONTROL: max-age=60
//	EXT:
//	ST: urn:deskphone-org:device:phone:1
//	USN: uuid:<token-free id>::urn:deskphone-org:device:phone:1
//	LOCATION: http://<phone>:<port>/update/status
//	X-DESKPHONE-BOARD: qemu-arm64
//	X-DESKPHONE-VERSION: v1.1.0
//	X-DESKPHONE-SLOT: B
const (
	SSDPAddr = "239.255.255.250:1900"
	// SSDPTarget is the search target phones answer (besides ssdp:all).
	SSDPTarget = "urn:deskphone-org:device:phone:1"
)

// ErrBadSSDP is returned for a datagram that is not an SSDP message.
var ErrBadSSDP = errors.New("update: bad SSDP message")

// SSDPMessage is a parsed SSDP datagram: the start line and headers
// (canonical MIME keys).
type SSDPMessage struct {
	StartLine string
	Header    textproto.MIMEHeader
}

// ParseSSDP parses an SSDP datagram (an HTTP-over-UDP request or response
// head, RFC 9112 section 2 syntax).
func ParseSSDP(b []byte) (*SSDPMessage, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	line, err := r.ReadLine()
	if err != nil || line == "" {
		return nil, fmt.Errorf("%w: no start line", ErrBadSSDP)
	}
	if !strings.HasPrefix(line, "M-SEARCH ") && !strings.HasPrefix(line, "HTTP/1.1 ") && !strings.HasPrefix(line, "NOTIFY ") {
		return nil, fmt.Errorf("%w: start line %q", ErrBadSSDP, line)
	}
	h, err := r.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return nil, fmt.Errorf("%w: %v", ErrBadSSDP, err)
	}
	return &SSDPMessage{StartLine: line, Header: h}, nil
}

// SearchRequest is the M-SEARCH a tool multicasts.
func SearchRequest() []byte {
	return []byte("M-SEARCH * HTTP/1.1\r\nHOST: " + SSDPAddr + "\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: " + SSDPTarget + "\r\n\r\n")
}

// SearchResponse is a phone's answer to an M-SEARCH.
func SearchResponse(id, location string, st Status) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=60\r\nEXT:\r\nST: %s\r\nUSN: uuid:%s::%s\r\nLOCATION: %s\r\n", SSDPTarget, id, SSDPTarget, location)
	fmt.Fprintf(&b, "X-DESKPHONE-BOARD: %s\r\nX-DESKPHONE-VERSION: %s\r\nX-DESKPHONE-SLOT: %s\r\n\r\n", st.Board, st.Version, st.Slot)
	return []byte(b.String())
}

// ServeSSDP answers M-SEARCH requests for SSDPTarget or ssdp:all read
// from conn (joined to the SSDP group by the caller) until ctx is done or
// conn fails. location is the URL of the status endpoint.
func ServeSSDP(ctx context.Context, conn net.PacketConn, id, location string, status func() Status) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		m, err := ParseSSDP(buf[:n])
		if err != nil || !strings.HasPrefix(m.StartLine, "M-SEARCH ") || m.Header.Get("Man") != `"ssdp:discover"` {
			continue
		}
		if st := m.Header.Get("St"); st != SSDPTarget && st != "ssdp:all" {
			continue
		}
		_, _ = conn.WriteTo(SearchResponse(id, location, status()), from)
	}
}
