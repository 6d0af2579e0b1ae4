package daemon

import (
	"io"
	"log/slog"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/promtext"
	"github.com/deskphone/phone/firmware/syslog"
	"github.com/deskphone/phone/firmware/version"
	"github.com/deskphone/phone/voip/sip"
)

// Diagnostics (issue 15): the log teed to a syslog server, GET /metrics
// and the SIP message trace.

// diagParts are the daemon's diagnostics state.
type diagParts struct {
	started time.Time
	// syslog is the handler the log is teed to (Options.Syslog), nil
	// without log.syslog.server.
	syslog *syslog.Handler
	// callsIn and callsOut count the calls the phone has seen (wrap).
	callsIn, callsOut atomic.Uint64
}

func newDiag(o Options) diagParts {
	return diagParts{started: time.Now(), syslog: o.Syslog}
}

// TeeSyslog returns log sending also to the syslog server of
// c.Syslog, at c.Level, and the syslog handler, which the caller closes
// after the daemon (and gives it to Options.Syslog for /metrics). With
// no server it returns log and nil.
func TeeSyslog(c config.Log, log *slog.Logger) (*slog.Logger, *syslog.Handler, error) {
	if c.Syslog.Server == "" {
		return log, nil, nil
	}
	h, err := syslog.New(syslog.Config{
		Server: c.Syslog.Server, Transport: c.Syslog.Transport, Facility: c.Syslog.Facility,
		Level: c.SlogLevel(),
	})
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewMultiHandler(log.Handler(), h)), h, nil
}

// countCall counts a call the first time the daemon wraps it.
func (d *Daemon) countCall(c *sip.Call) {
	if c.Direction() == sip.Incoming {
		d.diag.callsIn.Add(1)
	} else {
		d.diag.callsOut.Add(1)
	}
}

// traceAPI is the process's SIP trace (sip.DefaultTrace) for the API and
// the web page.
type traceAPI struct{}

func (traceAPI) TraceState() api.TraceState {
	s := sip.DefaultTrace.State()
	return api.TraceState{Enabled: s.Enabled, Messages: s.Messages, Capacity: s.Capacity, Recorded: s.Recorded}
}
func (traceAPI) SetTrace(on bool)             { sip.DefaultTrace.SetEnabled(on) }
func (traceAPI) ClearTrace()                  { sip.DefaultTrace.Clear() }
func (traceAPI) WriteTrace(w io.Writer) error { return sip.DefaultTrace.WriteText(w) }

// regStates are the registration states, each a series of
// phone_line_registration_state.
var regStates = []sip.RegState{sip.RegUnregistered, sip.RegRegistering, sip.RegRegistered, sip.RegFailed}

// runtimeMetrics are the Go runtime's metrics /metrics shows, by the name
// it shows them under.
var runtimeMetrics = []struct{ name, key, help string }{
	{"go_memory_total_bytes", "/memory/classes/total:bytes", "Memory mapped by the Go runtime (runtime/metrics /memory/classes/total:bytes)."},
	{"go_heap_objects_bytes", "/memory/classes/heap/objects:bytes", "Memory in live and not yet swept heap objects."},
	{"go_gc_gomemlimit_bytes", "/gc/gomemlimit:bytes", "The Go runtime's soft memory limit (memory_limit)."},
	{"go_goroutines", "/sched/goroutines:goroutines", "Goroutines."},
}

// writeMetrics writes GET /metrics (docs/api.md lists the families).
func (d *Daemon) writeMetrics(w io.Writer) error {
	p := promtext.NewWriter(w)
	S := promtext.S
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	p.Gauge("phone_info", "The firmware version and board; always 1.", S(1, "version", version.Version, "board", d.board.Name))
	p.Gauge("phone_uptime_seconds", "Seconds since phoned started.", S(time.Since(d.diag.started).Seconds()))

	var reg, regState, regFail, tUp []promtext.Sample
	var restarts, calls, lost, jitter, rtt, fraction []promtext.Sample
	var adm sip.AdmissionStats
	active := 0
	for _, l := range d.linesNow() {
		n := strconv.Itoa(l.n)
		rs := l.ua.Registration()
		reg = append(reg, S(b2f(rs.State == sip.RegRegistered), "line", n, "account", l.name))
		for _, st := range regStates {
			regState = append(regState, S(b2f(rs.State == st), "line", n, "state", string(st)))
		}
		regFail = append(regFail, S(float64(rs.Failures), "line", n))
		ts := l.ua.Transport()
		tUp = append(tUp, S(b2f(ts.State == sip.TransportUp), "line", n))
		restarts = append(restarts, S(float64(ts.Restarts), "line", n))
		cs := l.ua.Calls()
		active += len(cs)
		calls = append(calls, S(float64(len(cs)), "line", n))
		for _, c := range cs {
			m := c.Media()
			if m == nil {
				continue
			}
			st := m.Stats()
			id := []string{"line", n, "call_id", c.ID()}
			lost = append(lost, S(float64(st.Lost), id...))
			fraction = append(fraction, S(st.FractionLost, id...))
			jitter = append(jitter, S(st.Jitter.Seconds(), id...))
			if st.RTT > 0 {
				rtt = append(rtt, S(st.RTT.Seconds(), id...))
			}
		}
		a := l.ua.AdmissionStats()
		adm.RateLimited += a.RateLimited
		adm.Forbidden += a.Forbidden
		adm.NotFound += a.NotFound
		adm.Overloaded += a.Overloaded
		adm.Busy += a.Busy
	}
	p.Gauge("phone_line_registered", "1 when the line is registered.", reg...)
	p.Gauge("phone_line_registration_state", "1 for the line's registration state, 0 for the others.", regState...)
	p.Gauge("phone_line_registration_failures", "Consecutive failed registration attempts.", regFail...)
	p.Gauge("phone_line_sip_transport_up", "1 when the line's SIP transport is up.", tUp...)
	p.Counter("phone_line_sip_transport_restarts_total", "Times the line's SIP transport was rebuilt after it died.", restarts...)
	p.Gauge("phone_calls_active", "Calls in progress, by line.", calls...)
	p.Counter("phone_calls_total", "Calls the phone has seen since it started, by direction.",
		S(float64(d.diag.callsIn.Load()), "direction", "incoming"), S(float64(d.diag.callsOut.Load()), "direction", "outgoing"))
	p.Gauge("phone_call_rtp_lost_packets", "RTP packets lost on an active call (RFC 3550 A.3, cumulative).", lost...)
	p.Gauge("phone_call_rtp_fraction_lost", "Fraction of RTP packets lost over the last RTCP interval, 0..1.", fraction...)
	p.Gauge("phone_call_rtp_jitter_seconds", "Interarrival jitter of an active call (RFC 3550 A.8).", jitter...)
	p.Gauge("phone_call_rtp_rtt_seconds", "Round-trip time from the far end's RTCP reports (absent until known).", rtt...)
	p.Counter("phone_sip_admission_dropped_total", "SIP requests turned away by admission control, by reason.",
		S(float64(adm.RateLimited), "reason", "rate_limited"), S(float64(adm.Forbidden), "reason", "forbidden"),
		S(float64(adm.NotFound), "reason", "not_found"), S(float64(adm.Overloaded), "reason", "overloaded"),
		S(float64(adm.Busy), "reason", "busy"))

	pm := d.ports()
	r := pm.Report()
	p.Gauge("phone_nat_info", "The NAT type and the strategies in use; always 1.", S(1,
		"type", r.Type, "mapping", r.Mapping.String(), "filtering", r.Filtering.String(),
		"strategy", string(r.Strategy), "media_strategy", string(r.MediaStrategy)))
	p.Gauge("phone_nat_alg_detected", "1 when a SIP ALG was seen rewriting signalling.", S(b2f(r.ALGSeen)))
	p.Gauge("phone_nat_keepalive_interval_seconds", "The NAT keepalive interval in use.", S(r.Keepalive))
	p.Gauge("phone_nat_binding_lifetime_seconds", "The configured or measured NAT binding lifetime (0: unknown).", S(r.BindingLifetime))
	kaPkts, kaBytes := pm.KeepaliveStats()
	p.Counter("phone_nat_keepalive_packets_total", "NAT keepalive packets sent.", S(float64(kaPkts)))
	p.Counter("phone_nat_keepalive_bytes_total", "NAT keepalive UDP payload bytes sent.", S(float64(kaBytes)))

	ts := sip.DefaultTrace.State()
	p.Gauge("phone_sip_trace_enabled", "1 while the SIP message trace records.", S(b2f(ts.Enabled)))
	if h := d.diag.syslog; h != nil {
		st := h.Stats()
		p.Counter("phone_syslog_sent_total", "Log messages sent to the syslog server.", S(float64(st.Sent)))
		p.Counter("phone_syslog_dropped_total", "Log messages dropped because the syslog queue was full.", S(float64(st.Dropped)))
		p.Counter("phone_syslog_errors_total", "Syslog connection and write errors.", S(float64(st.Errors)))
	}

	samples := make([]metrics.Sample, len(runtimeMetrics))
	for i, m := range runtimeMetrics {
		samples[i].Name = m.key
	}
	metrics.Read(samples)
	for i, m := range runtimeMetrics {
		if v, ok := metricValue(samples[i].Value); ok {
			p.Gauge(m.name, m.help, S(v))
		}
	}
	if rss, ok := residentBytes(); ok {
		p.Gauge("process_resident_memory_bytes", "Resident memory of phoned (/proc/self/statm).", S(rss))
	}
	return p.Flush()
}

func metricValue(v metrics.Value) (float64, bool) {
	switch v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64()), true
	case metrics.KindFloat64:
		return v.Float64(), true
	}
	return 0, false
}

// residentBytes reads the resident set size from /proc/self/statm
// (Linux; false elsewhere).
func residentBytes() (float64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return float64(pages) * float64(os.Getpagesize()), true
}
