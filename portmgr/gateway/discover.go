package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Config says where to look for a gateway.
type Config struct {
	// Net carries PCP and SSDP. Required.
	Net transport.Net
	// Gateway is the default router's IP. Required.
	Gateway netip.Addr
	// Local is the phone's IP.
	Local netip.Addr
	// HTTPClient fetches the UPnP description and carries SOAP (nil:
	// http.DefaultClient, host network only).
	HTTPClient *http.Client
	// PCPPort and SSDPPort override 5351 and 1900 (tests).
	PCPPort, SSDPPort uint16
	// Listen, when set, opens the UDP socket of each PCP and NAT-PMP
	// request and of the SSDP search instead of Net (on Local, any port): the port
	// manager binds them inside its port ranges, as every UDP socket of
	// the phone must be.
	Listen func() (net.PacketConn, error)
}

// listenFunc is listen, or Net.ListenPacket on local (any port).
func listenFunc(n transport.Net, local netip.Addr, listen func() (net.PacketConn, error)) func() (net.PacketConn, error) {
	if listen != nil {
		return listen
	}
	return func() (net.PacketConn, error) {
		bind := "0.0.0.0:0"
		if local.IsValid() {
			bind = netip.AddrPortFrom(local, 0).String()
		}
		return n.ListenPacket("udp4", bind)
	}
}

// Discover tries PCP, then NAT-PMP, then UPnP IGD, and returns the first
// that answers. NAT-PMP is tried on the host network (stdnet) only, as
// when it was a library that opened host sockets (the vnet tests exercise
// PCP), and UPnP without an HTTPClient too, so a vnet test never sends a
// real packet.
func Discover(ctx context.Context, cfg Config) (Client, error) {
	if cfg.Net == nil || !cfg.Gateway.IsValid() {
		return nil, errors.New("gateway: Net and Gateway are required")
	}
	_, host := cfg.Net.(*stdnet.Net)
	var errs []error
	pcp := &PCP{Net: cfg.Net, Listen: cfg.Listen, Gateway: cfg.Gateway, Port: cfg.PCPPort, Local: cfg.Local, Tries: 3}
	if err := pcp.Announce(ctx); err == nil {
		return pcp, nil
	} else {
		errs = append(errs, err)
	}
	if host && ctx.Err() == nil {
		n := &NATPMP{Net: cfg.Net, Listen: cfg.Listen, Gateway: cfg.Gateway, Local: cfg.Local, Timeout: time.Second}
		if _, err := n.ExternalIP(ctx); err == nil {
			return n, nil
		} else {
			errs = append(errs, err)
		}
	}
	if (host || cfg.HTTPClient != nil) && ctx.Err() == nil {
		u, err := discoverUPnP(ctx, listenFunc(cfg.Net, cfg.Local, cfg.Listen), cfg.Gateway, cfg.SSDPPort, cfg.Local, cfg.HTTPClient)
		if err == nil {
			return u, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(append([]error{ErrNoGateway}, errs...)...)
}
