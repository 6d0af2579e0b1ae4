package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	natpmp "github.com/jackpal/go-nat-pmp"
)

// NATPMP is a NAT-PMP client (RFC 6886) built on github.com/jackpal/go-nat-pmp.
// That library talks to the host network itself (UDP to gateway:5351),
// so Discover uses NAT-PMP only on the host network, never on vnet.
type NATPMP struct {
	c *natpmp.Client
}

// NewNATPMP returns a NAT-PMP client for the gateway. The timeout bounds
// each request including the library's retransmissions (RFC 6886 §3.1).
func NewNATPMP(gw netip.Addr, timeout time.Duration) *NATPMP {
	return &NATPMP{c: natpmp.NewClientWithTimeout(net.IP(gw.AsSlice()), timeout)}
}

// Protocol implements Client.
func (n *NATPMP) Protocol() string { return "natpmp" }

// ExternalIP implements Client (RFC 6886 §3.2).
func (n *NATPMP) ExternalIP(ctx context.Context) (netip.Addr, error) {
	r, err := call(ctx, n.c.GetExternalAddress)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("gateway: natpmp: %w", err)
	}
	return netip.AddrFrom4(r.ExternalIPAddress), nil
}

// Map implements Client (RFC 6886 §3.3). A renewal asks for the external
// port it already has.
func (n *NATPMP) Map(ctx context.Context, internal netip.AddrPort, prev *Lease, lifetime time.Duration) (Lease, error) {
	want := 0
	if prev != nil {
		want = int(prev.External.Port())
	}
	r, err := call(ctx, func() (*natpmp.AddPortMappingResult, error) {
		return n.c.AddPortMapping("udp", int(internal.Port()), want, int(lifetime/time.Second))
	})
	if err != nil {
		return Lease{}, fmt.Errorf("gateway: natpmp map %s: %w", internal, err)
	}
	ext, err := n.ExternalIP(ctx)
	if err != nil {
		return Lease{}, err
	}
	return Lease{Internal: internal, External: netip.AddrPortFrom(ext, r.MappedExternalPort),
		Lifetime: time.Duration(r.PortMappingLifetimeInSeconds) * time.Second}, nil
}

// Unmap implements Client: a mapping request with lifetime 0 and external
// port 0 deletes it (RFC 6886 §3.4).
func (n *NATPMP) Unmap(ctx context.Context, l Lease) error {
	_, err := call(ctx, func() (*natpmp.AddPortMappingResult, error) {
		return n.c.AddPortMapping("udp", int(l.Internal.Port()), 0, 0)
	})
	if err != nil {
		return fmt.Errorf("gateway: natpmp unmap %s: %w", l.Internal, err)
	}
	return nil
}

// call runs a blocking library call, giving up (and leaving it to its own
// timeout) when ctx ends.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

var _ Client = (*NATPMP)(nil)
