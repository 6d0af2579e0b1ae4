package gateway

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Errors.
var (
	// ErrNoGateway means no gateway answered any of the protocols.
	ErrNoGateway = errors.New("gateway: no port-mapping gateway found")
	// ErrRefused means the gateway answered with an error result.
	ErrRefused = errors.New("gateway: request refused")
	// ErrMalformed means the gateway's answer could not be parsed.
	ErrMalformed = errors.New("gateway: malformed response")
)

// Lease is one UDP port mapping held on the gateway.
type Lease struct {
	// Internal is the phone's socket address the mapping points at.
	Internal netip.AddrPort
	// External is the public address the gateway forwards from.
	External netip.AddrPort
	// Lifetime is what the gateway granted; renew at half of it.
	Lifetime time.Duration
	// Nonce identifies the mapping to PCP (RFC 6887 §11.1); unused elsewhere.
	Nonce [12]byte
}

// Client is a port-mapping protocol client for one gateway.
type Client interface {
	// Protocol names the protocol: "pcp", "natpmp" or "upnp".
	Protocol() string
	// ExternalIP asks the gateway for its public address.
	ExternalIP(ctx context.Context) (netip.Addr, error)
	// Map asks for (or renews, when prev is non-nil) a UDP mapping of
	// internal, for lifetime.
	Map(ctx context.Context, internal netip.AddrPort, prev *Lease, lifetime time.Duration) (Lease, error)
	// Unmap deletes the mapping.
	Unmap(ctx context.Context, l Lease) error
}
