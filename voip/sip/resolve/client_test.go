package resolve

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
)

// pipeServer answers the resolver over in-memory pipes: answer gets the
// network and the query and returns what to write back (each element one
// datagram over UDP; raw bytes, length prefixes included, over TCP).
type pipeServer struct {
	answer func(network string, q *dns.Msg) [][]byte

	mu      sync.Mutex // guards following
	queries []string   // "udp A plain.test."
}

func (s *pipeServer) dial(_ context.Context, network, _ string) (net.Conn, error) {
	c, srv := net.Pipe()
	go s.serve(network, srv)
	return c, nil
}

func (s *pipeServer) serve(network string, c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	var n int
	var err error
	if network == "tcp" {
		var l [2]byte
		if _, err = io.ReadFull(c, l[:]); err != nil {
			return
		}
		n = int(binary.BigEndian.Uint16(l[:]))
		_, err = io.ReadFull(c, buf[:n])
	} else {
		n, err = c.Read(buf)
	}
	if err != nil {
		return
	}
	q := new(dns.Msg)
	if err := q.Unpack(buf[:n]); err != nil {
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, network+" "+dns.TypeToString[q.Question[0].Qtype]+" "+q.Question[0].Name)
	s.mu.Unlock()
	for _, b := range s.answer(network, q) {
		if _, err := c.Write(b); err != nil {
			return
		}
	}
	// Hold the connection until the client closes it (EOF).
	_, _ = c.Read(buf)
}

// reply is an answer to q with the given records (zone-file lines) and
// a way to change it before packing.
func reply(t testing.TB, q *dns.Msg, mut func(*dns.Msg), rrs ...string) []byte {
	m := new(dns.Msg)
	m.SetReply(q)
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Error(err)
			return nil
		}
		m.Answer = append(m.Answer, rr)
	}
	if mut != nil {
		mut(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Error(err)
	}
	return b
}

func tcpFrame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func pipeResolver(t *testing.T, s *pipeServer) *Resolver {
	t.Helper()
	r, err := New(Config{Servers: []string{"192.0.2.53"}, Dial: s.dial, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const plainA = "plain.test. 60 IN A 192.0.2.7"

// TestExchangeIgnoresWrongID: a UDP datagram with another ID is a late
// or spoofed answer: ignored, and the right one that follows is used.
// With no right one the query times out, saying what it ignored.
func TestExchangeIgnoresWrongID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		good := true
		s := &pipeServer{answer: func(_ string, q *dns.Msg) [][]byte {
			bad := reply(t, q, func(m *dns.Msg) { m.Id ^= 0x5555 }, "plain.test. 60 IN A 192.0.2.66")
			if !good {
				return [][]byte{bad, {1}}
			}
			return [][]byte{bad, reply(t, q, nil, plainA)}
		}}
		r := pipeResolver(t, s)
		res, err := r.Resolve(t.Context(), Query{Host: "plain.test", Port: 5060})
		if err != nil || !slices.Equal(addrs(res.Targets), []string{"udp 192.0.2.7:5060"}) {
			t.Fatalf("%v %v", res, err)
		}
		good = false
		start := time.Now()
		_, err = r.Resolve(t.Context(), Query{Host: "plain.test", Port: 5060})
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "without our ID") {
			t.Errorf("only wrong IDs: %v, want a timeout naming the ignored answer", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("gave up after %v, want the 2 s timeout", d)
		}
	})
}

// TestExchangeBadAnswers: answers that do not fit the query are errors
// that say why; the resolver goes on to the next server.
func TestExchangeBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(t testing.TB, network string, q *dns.Msg) [][]byte
		want   string
	}{
		{"wrong name", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			return [][]byte{reply(t, q, func(m *dns.Msg) { m.Question[0].Name = "other.test." })}
		}, "does not match the question"},
		{"wrong type", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			return [][]byte{reply(t, q, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeMX })}
		}, "does not match the question"},
		{"not a response", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			return [][]byte{reply(t, q, func(m *dns.Msg) { m.Response = false })}
		}, "does not match the question"},
		{"cut short", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			b := reply(t, q, nil, plainA)
			return [][]byte{b[:len(b)-2]}
		}, "bad DNS message: answer"},
		{"compression loop", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			// One answer whose owner name is a pointer to itself.
			b := reply(t, q, nil)
			b = append(b, 0xC0, byte(len(b)), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
			binary.BigEndian.PutUint16(b[6:], 1) // ANCOUNT
			return [][]byte{b}
		}, "bad DNS message: answer"},
		{"oversized", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			return [][]byte{append(reply(t, q, nil, plainA), make([]byte, maxUDP)...)}
		}, "4096 bytes or more"},
		{"TCP wrong ID", func(t testing.TB, network string, q *dns.Msg) [][]byte {
			if network == "udp" {
				return [][]byte{reply(t, q, func(m *dns.Msg) { m.Truncated = true })}
			}
			return [][]byte{tcpFrame(reply(t, q, func(m *dns.Msg) { m.Id++ }, plainA))}
		}, "answer ID"},
		{"TCP short frame", func(t testing.TB, network string, q *dns.Msg) [][]byte {
			if network == "udp" {
				return [][]byte{reply(t, q, func(m *dns.Msg) { m.Truncated = true })}
			}
			return [][]byte{{0, 3, 1, 2, 3}}
		}, "shorter than a header"},
		{"TCP cut", func(t testing.TB, network string, q *dns.Msg) [][]byte {
			if network == "udp" {
				return [][]byte{reply(t, q, func(m *dns.Msg) { m.Truncated = true })}
			}
			return [][]byte{tcpFrame(reply(t, q, nil, plainA))[:20]}
		}, "reading a"},
		{"SERVFAIL", func(t testing.TB, _ string, q *dns.Msg) [][]byte {
			return [][]byte{reply(t, q, func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure })}
		}, "SERVFAIL from 192.0.2.53:53"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &pipeServer{answer: func(network string, q *dns.Msg) [][]byte { return tc.answer(t, network, q) }}
				r := pipeResolver(t, s)
				_, err := r.Resolve(t.Context(), Query{Host: "plain.test", Port: 5060})
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "A plain.test") {
					t.Errorf("%v, want an error about %q", err, tc.want)
				}
			})
		})
	}
}

// TestExchangeTruncatedOverTCP: a TC answer over UDP is asked again over
// TCP, whose answer (in two writes) is used; EDNS0 is offered.
func TestExchangeTruncatedOverTCP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var edns uint16
		s := &pipeServer{answer: func(network string, q *dns.Msg) [][]byte {
			if o := q.IsEdns0(); o != nil {
				edns = o.UDPSize()
			}
			if network == "udp" {
				return [][]byte{reply(t, q, func(m *dns.Msg) { m.Truncated = true }, plainA)}
			}
			b := tcpFrame(reply(t, q, nil, plainA, "plain.test. 60 IN A 192.0.2.8"))
			return [][]byte{b[:1], b[1:]}
		}}
		r := pipeResolver(t, s)
		res, err := r.Resolve(t.Context(), Query{Host: "plain.test", Port: 5060})
		if err != nil || len(res.Targets) != 2 {
			t.Fatalf("%v %v", res, err)
		}
		if want := []string{"udp A plain.test.", "tcp A plain.test."}; !slices.Equal(s.queries, want) {
			t.Errorf("queries %v, want %v", s.queries, want)
		}
		if edns != udpSize {
			t.Errorf("EDNS0 size %d, want %d", edns, udpSize)
		}
	})
}

// TestExchangeCancel: cancelling the context ends a wait for an answer
// that never comes at once, not at the timeout.
func TestExchangeCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &pipeServer{answer: func(string, *dns.Msg) [][]byte { return nil }}
		r := pipeResolver(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := r.Resolve(ctx, Query{Host: "plain.test", Port: 5060})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want context.Canceled", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("returned after %v, want 100ms", d)
		}
	})
}

// TestResolvConfMatchesMiekg: our resolv.conf reading and search list
// are what miekg/dns's ClientConfig gave the resolver before.
func TestResolvConfMatchesMiekg(t *testing.T) {
	dir := t.TempDir()
	for i, conf := range []string{
		"nameserver 192.0.2.1\nnameserver 2001:db8::1\n",
		"# comment\nsearch a.test b.test\noptions ndots:2 timeout:1 attempts:5\nnameserver 192.0.2.1\n",
		"domain corp.test\nsearch x.test\ndomain\nnameserver x\noptions ndots:-3\n",
		"search a.test\ndomain d.test\noptions ndots:99 rotate\n; nameserver 192.0.2.9\nnameserver\n",
		"",
	} {
		path := filepath.Join(dir, "rc"+string(rune('0'+i)))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		want, err := dns.ClientConfigFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readResolvConf(path)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.servers, want.Servers) || !slices.Equal(got.search, want.Search) || got.ndots != want.Ndots {
			t.Errorf("%q: %+v, want %+v", conf, got, want)
		}
		for _, host := range []string{"pbx", "pbx.corp", "a.b.c"} {
			if g, w := got.nameList(host), want.NameList(host); !slices.Equal(g, w) {
				t.Errorf("%q: names for %s: %v, want %v", conf, host, g, w)
			}
		}
	}
	if _, err := readResolvConf(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}
