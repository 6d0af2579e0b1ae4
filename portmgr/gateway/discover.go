package gateway

import (
	"context"
	"errors"
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
}

// Discover tries PCP, then NAT-PMP, then UPnP IGD, and returns the first
// that answers. NAT-PMP (whose library opens host sockets) and UPnP
// without an HTTPClient run only on the host network (stdnet), so a
// vnet test never sends a real packet.
func Discover(ctx context.Context, cfg Config) (Client, error) {
	if cfg.Net == nil || !cfg.Gateway.IsValid() {
		return nil, errors.New("gateway: Net and Gateway are required")
	}
	_, host := cfg.Net.(*stdnet.Net)
	var errs []error
	pcp := &PCP{Net: cfg.Net, Gateway: cfg.Gateway, Port: cfg.PCPPort, Local: cfg.Local, Tries: 3}
	if err := pcp.Announce(ctx); err == nil {
		return pcp, nil
	} else {
		errs = append(errs, err)
	}
	if host && ctx.Err() == nil {
		n := NewNATPMP(cfg.Gateway, time.Second)
		if _, err := n.ExternalIP(ctx); err == nil {
			return n, nil
		} else {
			errs = append(errs, err)
		}
	}
	if (host || cfg.HTTPClient != nil) && ctx.Err() == nil {
		u, err := DiscoverUPnP(ctx, cfg.Net, cfg.Gateway, cfg.SSDPPort, cfg.Local, cfg.HTTPClient)
		if err == nil {
			return u, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(append([]error{ErrNoGateway}, errs...)...)
}
