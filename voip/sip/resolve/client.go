package resolve

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// resolvConf is the part of resolv.conf(5) the resolver uses.
type resolvConf struct {
	servers []string // as written; not checked
	search  []string
	ndots   int
}

// readResolvConf reads path: "nameserver" lines, "search" or "domain"
// (the last one wins) and "options ndots:n" (default 1, at most 15).
// timeout:, attempts: and rotate are not used: Config.Timeout bounds one
// query and each server is asked once. A line longer than 64 KiB ends the
// reading, keeping what came before it.
func readResolvConf(path string) (resolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return resolvConf{}, err
	}
	defer f.Close()
	c := resolvConf{ndots: 1}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		switch fs[0] {
		case "nameserver":
			if len(fs) > 1 {
				c.servers = append(c.servers, fs[1])
			}
		case "domain":
			c.search = nil
			if len(fs) > 1 {
				c.search = []string{fs[1]}
			}
		case "search":
			c.search = append([]string(nil), fs[1:]...)
		case "options":
			for _, o := range fs[1:] {
				if v, ok := strings.CutPrefix(o, "ndots:"); ok {
					n, _ := strconv.Atoi(v)
					c.ndots = min(max(n, 0), 15)
				}
			}
		}
	}
	return c, nil
}

// nameList is the names to ask for host (no final dot) by the search
// list: host itself first when it has more labels than ndots, else last.
func (c resolvConf) nameList(host string) []string {
	hasNdots := strings.Count(host, ".")+1 > c.ndots
	name := fqdn(host)
	var out []string
	if hasNdots {
		out = append(out, name)
	}
	for _, s := range c.search {
		out = append(out, fqdn(name+s))
	}
	if !hasNdots {
		out = append(out, name)
	}
	return out
}

// exchangeDNS asks each server in turn until one answers NOERROR or
// NXDOMAIN; a truncated UDP answer is asked again over TCP.
func (r *Resolver) exchangeDNS(ctx context.Context, name string, qtype uint16) (*message, error) {
	servers, err := r.servers()
	if err != nil {
		return nil, err
	}
	var last error
	for _, s := range servers {
		m, err := r.ask(ctx, "udp", s, name, qtype)
		if err == nil && m.Truncated {
			m, err = r.ask(ctx, "tcp", s, name, qtype)
		}
		if err != nil {
			last = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch m.RCode {
		case rcodeSuccess, rcodeNameError:
			return m, nil
		}
		last = &rcodeError{rcode: m.RCode, server: s}
	}
	return nil, fmt.Errorf("%s %s: %w", typeString(qtype), strings.TrimSuffix(name, "."), last)
}

// servers is the DNS servers to ask now.
func (r *Resolver) servers() ([]string, error) {
	if len(r.cfg.Servers) > 0 {
		return r.cfg.Servers, nil
	}
	cc, err := readResolvConf(r.cfg.ResolvConf)
	if err != nil || len(cc.servers) == 0 {
		return nil, ErrNoServer
	}
	var out []string
	for _, s := range cc.servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		out = append(out, net.JoinHostPort(ip.String(), "53"))
	}
	if len(out) == 0 {
		return nil, ErrNoServer
	}
	return out, nil
}

// ask sends one query to one server over network ("udp" or "tcp") and
// returns its answer, within Config.Timeout. Over UDP the socket is
// connected, so only the server's datagrams arrive; one with another ID
// (a late answer to an earlier query, or a spoof) is ignored and the
// wait goes on. Over TCP a message has a 2-byte length prefix (RFC 1035
// §4.2.2). The answer must repeat the question.
func (r *Resolver) ask(parent context.Context, network, server, name string, qtype uint16) (*message, error) {
	ctx, cancel := context.WithTimeout(parent, r.cfg.Timeout)
	defer cancel()
	id := uint16(rand.N(1 << 16))
	q, err := packQuery(id, name, qtype)
	if err != nil {
		return nil, err
	}
	dial := r.cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, err
		}
	}
	// A cancelled context ends a blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var m *message
	if network == "tcp" {
		m, err = exchangeTCP(conn, q, id)
	} else {
		m, err = exchangeUDP(conn, q, id)
	}
	if err != nil {
		if parent.Err() != nil {
			// The caller gave up; the per-server timeout alone stays
			// the read's own timeout error.
			err = fmt.Errorf("%w (%w)", parent.Err(), err)
		}
		return nil, fmt.Errorf("%s %s: %w", network, server, err)
	}
	if !m.Response || len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name.String(), fqdn(name)) ||
		uint16(m.Question[0].Type) != qtype {
		return nil, fmt.Errorf("answer from %s does not match the question", server)
	}
	return m, nil
}

// maxUDP is the read buffer for a UDP answer: larger than the size we
// advertise, so a server that ignores it is told apart from a truncated
// read.
const maxUDP = 4096

func exchangeUDP(conn net.Conn, q []byte, id uint16) (*message, error) {
	if _, err := conn.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, maxUDP)
	var ignored error
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ignored != nil {
				return nil, fmt.Errorf("%w (ignored an answer: %w)", err, ignored)
			}
			return nil, err
		}
		if n == len(buf) {
			return nil, fmt.Errorf("%w: answer of %d bytes or more", errMsg, n)
		}
		if n < 2 || binary.BigEndian.Uint16(buf) != id {
			ignored = fmt.Errorf("%w: %d bytes without our ID %#04x", errMsg, n, id)
			continue
		}
		return parseMessage(buf[:n])
	}
}

func exchangeTCP(conn net.Conn, q []byte, id uint16) (*message, error) {
	out := make([]byte, 2+len(q))
	binary.BigEndian.PutUint16(out, uint16(len(q)))
	copy(out[2:], q)
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, fmt.Errorf("reading the length: %w", err)
	}
	n := binary.BigEndian.Uint16(l[:])
	if n < 12 {
		return nil, fmt.Errorf("%w: %d-byte answer, shorter than a header", errMsg, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("reading a %d-byte answer: %w", n, err)
	}
	if got := binary.BigEndian.Uint16(buf); got != id {
		return nil, fmt.Errorf("%w: answer ID %#04x, want %#04x", errMsg, got, id)
	}
	return parseMessage(buf)
}

// rcodeError is a server's answer other than NOERROR and NXDOMAIN.
type rcodeError struct {
	rcode  int
	server string
}

func (e *rcodeError) Error() string {
	return rcodeString(e.rcode) + " from " + e.server
}
