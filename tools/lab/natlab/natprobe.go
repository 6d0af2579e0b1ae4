package natlab

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/stun/v3"
)

// NATProbe is what a STUN probe from a site's phone namespace saw.
type NATProbe struct {
	// External is the mapped address's IP.
	External string
	// PortKept: the mapped port is the local port.
	PortKept bool
	// SameMapping: both of coturn's addresses saw the same mapped port
	// (endpoint-independent mapping).
	SameMapping bool
	// FromOtherPort and FromOtherAddr: a response sent, on request
	// (CHANGE-REQUEST, RFC 5780), from coturn's other port, or its other
	// address and port, came in.
	FromOtherPort, FromOtherAddr bool
}

// String is a one-line summary.
func (p NATProbe) String() string {
	return fmt.Sprintf("ext %s, port kept %v, same mapping to both servers %v, in from other port %v, from other addr+port %v",
		p.External, p.PortKept, p.SameMapping, p.FromOtherPort, p.FromOtherAddr)
}

// errNoAnswer reports a STUN request nobody answered.
var errNoAnswer = errors.New("no STUN answer")

// probeNAT probes the site's NAT from fresh local ports (each test its
// own, so one test's mapping does not open the next one's filter).
func probeNAT(s *Site) (NATProbe, error) {
	var p NATProbe
	c, err := ListenUDP(s.Phone, "0.0.0.0:41000")
	if err != nil {
		return p, err
	}
	defer c.Close()
	m1, err := stunAsk(c, STUN1+":3478", 0)
	if err != nil {
		return p, fmt.Errorf("binding to %s: %w", STUN1, err)
	}
	m2, err := stunAsk(c, STUN2+":3478", 0)
	if err != nil {
		return p, fmt.Errorf("binding to %s: %w", STUN2, err)
	}
	p.External = m1.IP.String()
	p.PortKept = m1.Port == 41000
	p.SameMapping = m1.Port == m2.Port
	for i, flags := range []uint32{0x2, 0x6} { // change port; change IP and port
		c2, err := ListenUDP(s.Phone, fmt.Sprintf("0.0.0.0:%d", 41001+i))
		if err != nil {
			return p, err
		}
		_, err = stunAsk(c2, STUN1+":3478", 0) // open the mapping
		if err == nil {
			_, err = stunAsk(c2, STUN1+":3478", flags)
		}
		c2.Close()
		switch {
		case err == nil && flags == 0x2:
			p.FromOtherPort = true
		case err == nil:
			p.FromOtherAddr = true
		case !errors.Is(err, errNoAnswer):
			return p, err
		}
	}
	return p, nil
}

// stunAsk sends a binding request (with CHANGE-REQUEST flags when not 0)
// up to three times, 400 ms apart, and returns the mapped address.
func stunAsk(c *net.UDPConn, server string, change uint32) (*stun.XORMappedAddress, error) {
	raddr, err := net.ResolveUDPAddr("udp4", server)
	if err != nil {
		return nil, err
	}
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
	if change != 0 {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrChangeRequest, Value: []byte{0, 0, 0, byte(change)}})
	}
	setters = append(setters, stun.Fingerprint)
	req, err := stun.Build(setters...)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := c.WriteToUDP(req.Raw, raddr); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(400 * time.Millisecond)
		for {
			_ = c.SetReadDeadline(deadline)
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break // timeout: send again
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(res); err != nil {
				return nil, fmt.Errorf("stun answer from %s: %w", server, err)
			}
			return &xor, nil
		}
	}
	return nil, errNoAnswer
}
