package flash

import (
	"context"
	"net"
	"sort"
	"time"

	"github.com/deskphone/phone/firmware/update"
)

// DiscoverOptions configures Discover.
type DiscoverOptions struct {
	// Conn sends the search and receives answers; nil opens a UDP socket
	// on all interfaces.
	Conn net.PacketConn
	// To is where the search goes; nil means the SSDP multicast group.
	To net.Addr
	// Timeout is how long answers are collected (default 3 s).
	Timeout time.Duration
}

// Phone is one phone that answered a search.
type Phone struct {
	Location, Board, Version, Slot string
	From                           net.Addr
}

// Discover multicasts an SSDP M-SEARCH for deskphones (see
// update.ServeSSDP) and collects the answers, sorted by location.
func Discover(ctx context.Context, o DiscoverOptions) ([]Phone, error) {
	conn := o.Conn
	if conn == nil {
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			return nil, err
		}
		defer c.Close()
		conn = c
	}
	to := o.To
	if to == nil {
		a, err := net.ResolveUDPAddr("udp4", update.SSDPAddr)
		if err != nil {
			return nil, err
		}
		to = a
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// Send the search twice: SSDP is UDP and a lost search is common.
	for range 2 {
		if _, err := conn.WriteTo(update.SearchRequest(), to); err != nil {
			return nil, err
		}
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	seen := map[string]Phone{}
	buf := make([]byte, 2048)
	for ctx.Err() == nil {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			break // the deadline
		}
		m, err := update.ParseSSDP(buf[:n])
		if err != nil || m.Header.Get("St") != update.SSDPTarget || m.Header.Get("Location") == "" {
			continue
		}
		loc := m.Header.Get("Location")
		seen[loc] = Phone{Location: loc, Board: m.Header.Get("X-Deskphone-Board"), Version: m.Header.Get("X-Deskphone-Version"),
			Slot: m.Header.Get("X-Deskphone-Slot"), From: from}
	}
	out := make([]Phone, 0, len(seen))
	for _, p := range seen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out, nil
}
