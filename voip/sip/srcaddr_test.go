package sip

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/vnet"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
)

// noSrcNet is a vnet host whose route lookup (a UDP Dial) gives no
// source address: 0.0.0.0, as a default route through an interface
// without an IPv4 address does, or with noRoute "network is
// unreachable".
type noSrcNet struct {
	*vnet.Net
	noRoute bool
}

type zeroLocalConn struct{ net.Conn }

func (c zeroLocalConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4zero, Port: c.Conn.LocalAddr().(*net.UDPAddr).Port}
}

func (n *noSrcNet) Dial(network, address string) (net.Conn, error) {
	if n.noRoute {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	}
	c, err := n.Net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return zeroLocalConn{c}, nil
}

var _ transport.Net = (*noSrcNet)(nil)

// TestCallWithoutRouteSourceAddress: with a default route that gives no
// source address, or no route at all, the phone still offers its real
// address in c= (0.0.0.0 would be hold: one-way audio) and the call has
// audio both ways.
func TestCallWithoutRouteSourceAddress(t *testing.T) {
	for _, noRoute := range []bool{false, true} {
		name := "no source address"
		if noRoute {
			name = "no route"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				an, bn := w.host("10.0.0.2"), w.host("10.0.0.3")
				w.start()
				a := newPhoneWith(t, portmgr.Config{Net: &noSrcNet{Net: an, noRoute: noRoute}}, func(c *Config) { c.Account.User = "a" })
				b := newPhone(t, bn, func(c *Config) { c.Account.User = "b" })
				ca := dial(t, a)
				cb := b.waitIncoming(t)
				if err := cb.Answer(); err != nil {
					t.Fatal(err)
				}
				a.waitCall(t, ca, StateTalking)
				b.waitCall(t, cb, StateTalking)
				if l, p := ca.Stats().MediaLocal, cb.Stats().MediaPeer; !strings.HasPrefix(l, "10.0.0.2:") || !strings.HasPrefix(p, "10.0.0.2:") {
					t.Fatalf("A advertises %q, B sends to %q; want A's 10.0.0.2", l, p)
				}
				gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
				if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
					t.Fatal("no two-way audio")
				}
				ca.Hangup()
				b.waitCall(t, cb, StateEnded)
			})
		})
	}
}
