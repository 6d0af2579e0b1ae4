package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// exchange sends req from c to server until check accepts an answer from
// server: tries sends, the first answer awaited rto and each later one
// twice as long as the one before (RFC 6886 §3.1, RFC 6887 §8.1.1).
// Datagrams from elsewhere are ignored (only the gateway answers); check
// returns ok false for a datagram to ignore and err for a well-formed
// error answer. name goes into the error when nothing answers.
func exchange(ctx context.Context, c net.PacketConn, server netip.AddrPort, req []byte, bufSize, tries int, rto time.Duration, name string, check func(resp []byte) (ok bool, err error)) ([]byte, error) {
	to := net.UDPAddrFromAddrPort(server)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, bufSize)
	for i := range tries {
		if _, err := c.WriteTo(req, to); err != nil {
			return nil, err
		}
		_ = c.SetReadDeadline(time.Now().Add(rto << i))
		for {
			n, from, err := c.ReadFrom(buf)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				return nil, err
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok || ua.AddrPort().Addr().Unmap() != server.Addr().Unmap() || ua.AddrPort().Port() != server.Port() {
				continue
			}
			resp := buf[:n]
			ok, err = check(resp)
			if !ok {
				continue
			}
			if err != nil {
				return nil, err
			}
			return append([]byte(nil), resp...), nil
		}
	}
	return nil, fmt.Errorf("gateway: %s %s: no answer", name, server)
}
