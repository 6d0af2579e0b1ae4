package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/huin/goupnp"
	"github.com/huin/goupnp/dcps/internetgateway2"
	"github.com/pion/transport/v4"
)

// SSDPPort is the UPnP discovery port (UPnP Device Architecture 1.1 §1.3).
const SSDPPort = 1900

// UPnP is a UPnP IGD client: WANIPConnection:1 AddPortMapping /
// DeletePortMapping / GetExternalIPAddress through
// github.com/huin/goupnp. Discovery sends the SSDP M-SEARCH unicast to
// the gateway (as tailscale's portmapper does) over a transport.Net; the
// description and SOAP go over HTTP with the given client.
type UPnP struct {
	// Local is the phone's IP, the NewInternalClient of mappings.
	Local netip.Addr
	// Description labels the mappings on the router's status page.
	Description string

	conn *internetgateway2.WANIPConnection1
}

// DiscoverUPnP sends an M-SEARCH for an InternetGatewayDevice to
// gw:ssdpPort (0: 1900) and loads the device description from the
// LOCATION it answers with, using hc (nil: http.DefaultClient).
func DiscoverUPnP(ctx context.Context, n transport.Net, gw netip.Addr, ssdpPort uint16, local netip.Addr, hc *http.Client) (*UPnP, error) {
	return discoverUPnP(ctx, listenFunc(n, local, nil), gw, ssdpPort, local, hc)
}

// discoverUPnP is DiscoverUPnP with the SSDP socket from listen.
func discoverUPnP(ctx context.Context, listen func() (net.PacketConn, error), gw netip.Addr, ssdpPort uint16, local netip.Addr, hc *http.Client) (*UPnP, error) {
	if ssdpPort == 0 {
		ssdpPort = SSDPPort
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	loc, err := ssdpSearch(ctx, listen, netip.AddrPortFrom(gw, ssdpPort))
	if err != nil {
		return nil, err
	}
	root, err := fetchRoot(ctx, hc, loc)
	if err != nil {
		return nil, err
	}
	clients, err := internetgateway2.NewWANIPConnection1ClientsFromRootDevice(root, loc)
	if err != nil || len(clients) == 0 {
		return nil, fmt.Errorf("%w: upnp: no WANIPConnection at %s: %v", ErrNoGateway, loc, err)
	}
	c := clients[0]
	c.SOAPClient.HTTPClient = *hc
	return &UPnP{Local: local, Description: "deskphone", conn: c}, nil
}

const mSearch = "M-SEARCH * HTTP/1.1\r\n" +
	"HOST: 239.255.255.250:1900\r\n" +
	"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" +
	"MAN: \"ssdp:discover\"\r\n" +
	"MX: 1\r\n\r\n"

func ssdpSearch(ctx context.Context, listen func() (net.PacketConn, error), to netip.AddrPort) (*url.URL, error) {
	c, err := listen()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 2048)
	for try := 0; try < 3; try++ {
		if _, err := c.WriteTo([]byte(mSearch), net.UDPAddrFromAddrPort(to)); err != nil {
			return nil, err
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond << try))
		for {
			nr, _, err := c.ReadFrom(buf)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				break
			}
			if loc, ok := parseSSDP(buf[:nr]); ok {
				return loc, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: upnp: no SSDP answer from %s", ErrNoGateway, to)
}

// parseSSDP reads an M-SEARCH answer and returns its LOCATION when it is
// an Internet Gateway Device with an http URL.
func parseSSDP(b []byte) (*url.URL, bool) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		return nil, false
	}
	_ = resp.Body.Close()
	if !strings.Contains(resp.Header.Get("ST"), "InternetGatewayDevice") {
		return nil, false
	}
	loc, err := url.Parse(resp.Header.Get("LOCATION"))
	if err != nil || loc.Host == "" || (loc.Scheme != "http" && loc.Scheme != "https") {
		return nil, false
	}
	return loc, true
}

func fetchRoot(ctx context.Context, hc *http.Client, loc *url.URL) (*goupnp.RootDevice, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway: upnp description: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: upnp description %s: %s", ErrMalformed, loc, resp.Status)
	}
	root := new(goupnp.RootDevice)
	d := xml.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	d.DefaultSpace = goupnp.DeviceXMLNamespace
	if err := d.Decode(root); err != nil {
		return nil, fmt.Errorf("%w: upnp description: %v", ErrMalformed, err)
	}
	base := loc
	if root.URLBaseStr != "" {
		if b, err := url.Parse(root.URLBaseStr); err == nil {
			base = b
		}
	}
	root.SetURLBase(base)
	return root, nil
}

// Protocol implements Client.
func (u *UPnP) Protocol() string { return "upnp" }

// ExternalIP implements Client (GetExternalIPAddress).
func (u *UPnP) ExternalIP(ctx context.Context) (netip.Addr, error) {
	s, err := u.conn.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("gateway: upnp: %w", err)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: upnp external address %q", ErrMalformed, s)
	}
	return a, nil
}

// Map implements Client (AddPortMapping). The external port asked for is
// the internal one (or the one already held, on renewal); an IGD that
// cannot give it answers 718 ConflictInMappingEntry, and the next port
// is tried.
func (u *UPnP) Map(ctx context.Context, internal netip.AddrPort, prev *Lease, lifetime time.Duration) (Lease, error) {
	ext, err := u.ExternalIP(ctx)
	if err != nil {
		return Lease{}, err
	}
	want := internal.Port()
	if prev != nil {
		want = prev.External.Port()
	}
	var last error
	for i := 0; i < 4; i++ {
		port := want + uint16(i)
		if port < 1024 {
			break
		}
		err := u.conn.AddPortMappingCtx(ctx, "", port, "UDP", internal.Port(), internal.Addr().String(),
			true, u.Description, uint32(lifetime/time.Second))
		if err == nil {
			return Lease{Internal: internal, External: netip.AddrPortFrom(ext, port), Lifetime: lifetime}, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return Lease{}, fmt.Errorf("%w: upnp AddPortMapping %s: %v", ErrRefused, internal, last)
}

// Unmap implements Client (DeletePortMapping).
func (u *UPnP) Unmap(ctx context.Context, l Lease) error {
	if err := u.conn.DeletePortMappingCtx(ctx, "", l.External.Port(), "UDP"); err != nil {
		return fmt.Errorf("gateway: upnp DeletePortMapping %s: %w", l.External, err)
	}
	return nil
}

var (
	_ Client = (*UPnP)(nil)
	_        = errors.New
)
