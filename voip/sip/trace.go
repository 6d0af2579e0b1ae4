package sip

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// The SIP message trace: every SIP message the process reads or writes,
// with its time, direction, transport and addresses, kept in a bounded
// ring while the trace is on (off by default). It hooks sipgo's
// transport layer, which reports each UDP datagram and each TCP/TLS read
// or write (a stream read may hold part of a message or several), so it
// sees what admission control later drops too.
//
// Secrets are redacted as a message is recorded: the response of
// Authorization and Proxy-Authorization (RFC 3261 §22.4, the digest a
// password answers the nonce with) and the SDES keys of a=crypto lines
// (RFC 4568 §6.1, "inline:key|lifetime|mki"), so a trace can be
// mailed to a vendor. Passwords never appear in SIP.

// Trace bounds (DefaultTrace's).
const (
	// TraceMessages is how many messages the ring keeps, TraceMessageMax
	// how much of one (the rest is cut): at most 1 MiB in all.
	TraceMessages   = 256
	TraceMessageMax = 4096
)

// TraceEntry is one recorded SIP message.
type TraceEntry struct {
	Time time.Time
	// Out is true for a message the phone sent.
	Out           bool
	Transport     string
	Local, Remote string
	// Size is the message's length on the wire; Msg holds its first
	// TraceMessageMax bytes at most, redacted (so Msg may be shorter
	// than Size when nothing was cut).
	Size int
	Msg  []byte
}

// TraceState is the trace's switch and counters.
type TraceState struct {
	Enabled bool `json:"enabled"`
	// Messages are held now, at most Capacity; Recorded counts every
	// message recorded since the trace was last cleared (older ones
	// left the ring).
	Messages int    `json:"messages"`
	Capacity int    `json:"capacity"`
	Recorded uint64 `json:"recorded"`
}

// Trace is a ring of recent SIP messages.
type Trace struct {
	on  atomic.Bool
	now func() time.Time

	mu       sync.Mutex // guards following
	ring     []TraceEntry
	next     int // where the next entry goes
	n        int // entries held
	recorded uint64
}

// NewTrace returns a trace, off, that keeps the last n messages.
func NewTrace(n int) *Trace {
	return &Trace{ring: make([]TraceEntry, max(n, 1)), now: time.Now}
}

// DefaultTrace is the process's trace: sipgo reports every UA's
// messages to it.
var DefaultTrace = NewTrace(TraceMessages)

// traceHook hands sipgo's reports to DefaultTrace.
type traceHook struct{}

func (traceHook) SIPTraceRead(tr, laddr, raddr string, msg []byte) {
	DefaultTrace.Record(false, tr, laddr, raddr, msg)
}

func (traceHook) SIPTraceWrite(tr, laddr, raddr string, msg []byte) {
	DefaultTrace.Record(true, tr, laddr, raddr, msg)
}

// sipgo reads its debug switch without synchronisation, so it is set once
// here, before any transport runs, and Trace.SetEnabled is the switch.
func init() {
	siplib.SIPDebugTracer(traceHook{})
	siplib.SIPDebug = true
}

// SetEnabled switches recording on or off; what was recorded stays.
func (t *Trace) SetEnabled(on bool) { t.on.Store(on) }

// State returns the switch and counters.
func (t *Trace) State() TraceState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TraceState{Enabled: t.on.Load(), Messages: t.n, Capacity: len(t.ring), Recorded: t.recorded}
}

// Clear drops every recorded message.
func (t *Trace) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.ring)
	t.next, t.n, t.recorded = 0, 0, 0
}

// Record adds a message when the trace is on (sipgo's hook calls it;
// tests may too). An empty message (a stream read that returned
// nothing) is not recorded.
func (t *Trace) Record(out bool, transport, local, remote string, msg []byte) {
	if !t.on.Load() || len(msg) == 0 {
		return
	}
	e := TraceEntry{
		Time: t.now(), Out: out, Transport: transport, Local: local, Remote: remote,
		Size: len(msg), Msg: Redact(msg[:min(len(msg), TraceMessageMax)]),
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ring[t.next] = e
	t.next = (t.next + 1) % len(t.ring)
	t.n = min(t.n+1, len(t.ring))
	t.recorded++
}

// Entries returns the recorded messages, oldest first.
func (t *Trace) Entries() []TraceEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TraceEntry, 0, t.n)
	for i := range t.n {
		out = append(out, t.ring[(t.next-t.n+i+len(t.ring))%len(t.ring)])
	}
	return out
}

// WriteText writes the recorded messages as text, oldest first, each
// under a line
//
//	==== 2026-12-04T11:50:00.123456Z out UDP 192.0.2.10:5060 -> 198.51.100.7:5060 (512 bytes)
//
// ("in" messages read "local <- remote"), then a blank line.
func (t *Trace) WriteText(w io.Writer) error {
	es := t.Entries()
	st := t.State()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# SIP trace: %d messages held of %d recorded (the ring keeps %d); trace %s\n",
		st.Messages, st.Recorded, st.Capacity, map[bool]string{true: "on", false: "off"}[st.Enabled])
	fmt.Fprintf(bw, "# Authorization/Proxy-Authorization responses and a=crypto keys are redacted.\n\n")
	for _, e := range es {
		dir, arrow := "in", "<-"
		if e.Out {
			dir, arrow = "out", "->"
		}
		fmt.Fprintf(bw, "==== %s %s %s %s %s %s (%d bytes", e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
			dir, e.Transport, e.Local, arrow, e.Remote, e.Size)
		if e.Size > TraceMessageMax {
			fmt.Fprintf(bw, ", the first %d shown", TraceMessageMax)
		}
		fmt.Fprintf(bw, ")\n")
		bw.Write(bytes.ReplaceAll(e.Msg, []byte("\r\n"), []byte("\n")))
		if !bytes.HasSuffix(e.Msg, []byte("\n")) {
			bw.WriteByte('\n')
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

var (
	// authHeaderRE starts an Authorization or Proxy-Authorization
	// header line (header names are case-insensitive, RFC 3261 §7.3.1).
	authHeaderRE = regexp.MustCompile(`(?i)^(proxy-)?authorization[ \t]*:`)
	// responseRE is a digest response parameter, quoted or not.
	responseRE = regexp.MustCompile(`(?i)(\bresponse[ \t]*=[ \t]*)("[^"\r\n]*"?|[^,\s]*)`)
	// inlineRE is an SDES key-params (RFC 4568 §9.2: "inline:" key-info).
	inlineRE = regexp.MustCompile(`(?i)(inline:)[^\s;]*`)
	// cryptoLineRE and keyMgmtLineRE start the SDP lines that carry keys.
	cryptoLineRE  = regexp.MustCompile(`(?i)^a=crypto:`)
	keyMgmtLineRE = regexp.MustCompile(`(?i)^(a=key-mgmt:[ \t]*\S+[ \t]+)\S.*`)
)

// Redact returns a copy of a SIP message (or part of one) with the
// digest responses of Authorization and Proxy-Authorization headers,
// their folded continuation lines included, the keys of a=crypto lines
// and the data of a=key-mgmt lines replaced by "<redacted>".
func Redact(msg []byte) []byte {
	lines := bytes.SplitAfter(msg, []byte("\n"))
	out := make([]byte, 0, len(msg))
	inAuth := false
	for _, l := range lines {
		folded := len(l) > 0 && (l[0] == ' ' || l[0] == '\t')
		switch {
		case authHeaderRE.Match(l) || (inAuth && folded):
			inAuth = true
			l = responseRE.ReplaceAll(l, []byte(`${1}"<redacted>"`))
		case cryptoLineRE.Match(l):
			inAuth = false
			l = inlineRE.ReplaceAll(l, []byte(`${1}<redacted>`))
		case keyMgmtLineRE.Match(l):
			inAuth = false
			end := l[len(bytes.TrimRight(l, "\r\n")):]
			l = append(keyMgmtLineRE.ReplaceAll(bytes.TrimRight(l, "\r\n"), []byte(`${1}<redacted>`)), end...)
		default:
			inAuth = false
		}
		out = append(out, l...)
	}
	return out
}
