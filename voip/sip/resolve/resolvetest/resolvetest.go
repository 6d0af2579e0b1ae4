// Package resolvetest is an in-process DNS server for tests: it serves a
// zone given in zone-file lines (NAPTR, SRV, A, AAAA, CNAME) with
// github.com/miekg/dns, on 127.0.0.1 or on a PacketConn the test gives
// (a virtual network), and can be made to stop answering.
package resolvetest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is an authoritative-looking DNS server for one test.
type Server struct {
	udp, tcp *dns.Server
	addr     string

	mu       sync.Mutex // guards following
	rrs      []dns.RR
	truncate bool
	extra    bool

	down    atomic.Bool
	failT   atomic.Uint32 // a query type answered SERVFAIL (0: none)
	queries atomic.Int64
	wg      sync.WaitGroup
}

// New serves on 127.0.0.1, UDP and TCP on one random port. It is closed
// at the end of the test.
func New(t testing.TB, zone ...string) *Server {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		s := serve(t, pc, l, zone)
		return s
	}
	t.Fatalf("resolvetest: no port free for UDP and TCP: %v", lastErr)
	return nil
}

// NewOn serves UDP only on pc (for example a vnet socket). It is closed
// at the end of the test.
func NewOn(t testing.TB, pc net.PacketConn, zone ...string) *Server {
	t.Helper()
	return serve(t, noDeadline{pc}, nil, zone)
}

// noDeadline ignores read deadlines: miekg/dns's server polls with a
// read timeout and stops for good on a timeout error that is not
// net.Error.Temporary, which is what a virtual network's socket returns.
// Without deadlines its reader blocks until Close.
type noDeadline struct{ net.PacketConn }

func (noDeadline) SetReadDeadline(time.Time) error { return nil }

func serve(t testing.TB, pc net.PacketConn, l net.Listener, zone []string) *Server {
	t.Helper()
	s := &Server{addr: pc.LocalAddr().String()}
	for _, z := range zone {
		s.Add(t, z)
	}
	started := make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serveUDP), NotifyStartedFunc: func() { close(started) }}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.udp.ActivateAndServe() }()
	<-started
	if l != nil {
		started := make(chan struct{})
		s.tcp = &dns.Server{Listener: l, Handler: dns.HandlerFunc(s.serveTCP), NotifyStartedFunc: func() { close(started) }}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = s.tcp.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Add adds a record in zone-file syntax, e.g.
// "_sip._udp.example.com. 60 IN SRV 10 50 5060 pbx1.example.com.".
func (s *Server) Add(t testing.TB, line string) {
	t.Helper()
	rr, err := dns.NewRR(line)
	if err != nil || rr == nil {
		t.Fatalf("resolvetest: record %q: %v", line, err)
	}
	s.mu.Lock()
	s.rrs = append(s.rrs, rr)
	s.mu.Unlock()
}

// Remove deletes every record of name (any case, with or without the
// final dot) and type ("A", "SRV", ...).
func (s *Server) Remove(name, typ string) {
	name = dns.Fqdn(strings.ToLower(name))
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.rrs[:0]
	for _, rr := range s.rrs {
		h := rr.Header()
		if strings.EqualFold(h.Name, name) && dns.TypeToString[h.Rrtype] == typ {
			continue
		}
		out = append(out, rr)
	}
	s.rrs = out
}

// SetDown makes the server drop every query (true) or answer again.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// SetServFail makes every query of type typ ("AAAA", ...) get SERVFAIL,
// as a broken server or middlebox does; "" answers every type again.
func (s *Server) SetServFail(typ string) { s.failT.Store(uint32(dns.StringToType[typ])) }

// SetTruncate makes UDP answers empty with the TC bit, so clients must
// ask again over TCP.
func (s *Server) SetTruncate(on bool) {
	s.mu.Lock()
	s.truncate = on
	s.mu.Unlock()
}

// SetAdditional makes SRV answers carry the A and AAAA records of their
// targets in the additional section, as many servers do.
func (s *Server) SetAdditional(on bool) {
	s.mu.Lock()
	s.extra = on
	s.mu.Unlock()
}

// Queries is how many queries arrived (answered or not).
func (s *Server) Queries() int { return int(s.queries.Load()) }

// Close stops the server.
func (s *Server) Close() {
	if s.udp != nil {
		_ = s.udp.Shutdown()
	}
	if s.tcp != nil {
		_ = s.tcp.Shutdown()
	}
	s.wg.Wait()
}

func (s *Server) serveUDP(w dns.ResponseWriter, q *dns.Msg) { s.answer(w, q, true) }
func (s *Server) serveTCP(w dns.ResponseWriter, q *dns.Msg) { s.answer(w, q, false) }

func (s *Server) answer(w dns.ResponseWriter, q *dns.Msg, udp bool) {
	s.queries.Add(1)
	if s.down.Load() {
		return
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	qn, qt := q.Question[0].Name, q.Question[0].Qtype
	if ft := s.failT.Load(); ft != 0 && uint32(qt) == ft {
		m.Rcode = dns.RcodeServerFailure
		_ = w.WriteMsg(m)
		return
	}
	s.mu.Lock()
	known := false
	for _, rr := range s.rrs {
		h := rr.Header()
		if !strings.EqualFold(h.Name, qn) {
			continue
		}
		known = true
		if h.Rrtype == qt || h.Rrtype == dns.TypeCNAME {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	// Follow one CNAME, as a recursive server would.
	for _, rr := range m.Answer {
		if c, ok := rr.(*dns.CNAME); ok && qt != dns.TypeCNAME {
			for _, rr2 := range s.rrs {
				if strings.EqualFold(rr2.Header().Name, c.Target) && rr2.Header().Rrtype == qt {
					m.Answer = append(m.Answer, dns.Copy(rr2))
				}
			}
		}
	}
	if s.extra {
		for _, rr := range m.Answer {
			srv, ok := rr.(*dns.SRV)
			if !ok {
				continue
			}
			for _, rr2 := range s.rrs {
				h := rr2.Header()
				if strings.EqualFold(h.Name, srv.Target) && (h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA) {
					m.Extra = append(m.Extra, dns.Copy(rr2))
				}
			}
		}
	}
	trunc := s.truncate && udp
	s.mu.Unlock()
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	if trunc {
		m.Answer = nil
		m.Truncated = true
	}
	_ = w.WriteMsg(m) // a client that went away is not the test's concern
}
