package dtlssrtp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/logging"
	"github.com/pion/transport/v4/deadline"

	"github.com/deskphone/phone/voip/media"
	msrtp "github.com/deskphone/phone/voip/media/srtp"
	"github.com/deskphone/phone/voip/sdp"
)

// DefaultTimeout bounds a handshake when Config.Timeout is zero: the
// passive side waits this long for the peer's ClientHello, the active
// side retransmits (pion: 1 s, doubling) until then.
const DefaultTimeout = 15 * time.Second

// Errors.
var (
	// ErrNotReady is returned by the Protector methods until the
	// handshake has finished: the packet is not sent, or dropped.
	ErrNotReady = fmt.Errorf("dtlssrtp: handshake not finished: %w", media.ErrNotKeyed)
	// ErrFingerprint means the peer's certificate matches none of the
	// fingerprints its SDP carried.
	ErrFingerprint = errors.New("dtlssrtp: peer certificate matches no SDP fingerprint")
	// ErrHandshake wraps every other handshake failure (timeout, alert,
	// no common SRTP profile).
	ErrHandshake = errors.New("dtlssrtp: handshake failed")
	// ErrBadConfig means Config misses a required field.
	ErrBadConfig = errors.New("dtlssrtp: bad config")
	// ErrClosed means the Transport was closed before the handshake ended.
	ErrClosed = errors.New("dtlssrtp: closed")
)

// flightInterval is the first handshake retransmission timeout (it
// doubles on each retry).
const flightInterval = 250 * time.Millisecond

// exporterLabel is RFC 5764 §4.2's key exporter label.
const exporterLabel = "EXTRACTOR-dtls_srtp"

// profileSuites maps the DTLS-SRTP protection profiles we support to
// their SDES suite names (RFC 5764 §4.1.2, RFC 7714 §14.2; both give
// SRTCP an 80-bit tag under AES_CM_128_HMAC_SHA1_32).
var profileSuites = []struct {
	p     dtls.SRTPProtectionProfile
	suite string
}{
	{dtls.SRTP_AEAD_AES_128_GCM, sdp.SuiteAEADAES128GCM},
	{dtls.SRTP_AES128_CM_HMAC_SHA1_80, sdp.SuiteAES128CMSHA1_80},
	{dtls.SRTP_AES128_CM_HMAC_SHA1_32, sdp.SuiteAES128CMSHA1_32},
}

// profilesFor returns the protection profiles we offer in use_srtp for
// a suite list, in its order: the suites that map to a profile.
func profilesFor(suites []string) []dtls.SRTPProtectionProfile {
	var out []dtls.SRTPProtectionProfile
	for _, s := range suites {
		for _, ps := range profileSuites {
			if ps.suite == s {
				out = append(out, ps.p)
			}
		}
	}
	return out
}

// suiteOf is the SDES name of a DTLS-SRTP protection profile, if it is
// one of ours.
func suiteOf(p dtls.SRTPProtectionProfile, ours []dtls.SRTPProtectionProfile) (string, bool) {
	if !slices.Contains(ours, p) {
		return "", false
	}
	for _, ps := range profileSuites {
		if ps.p == p {
			return ps.suite, true
		}
	}
	return "", false
}

// Config configures a Transport. Conn, Role, Fingerprints and
// Certificate are required.
type Config struct {
	// Conn is the component's socket (portmgr Mapping.Conn, or RTCPConn
	// without rtcp-mux). The Transport reads it (through its Receive
	// method when it has one) and writes it, but never closes it.
	Conn net.PacketConn
	// Remote is the peer's address from SDP: where handshake records go
	// until a record arrives from the peer (then they go to its source).
	Remote netip.AddrPort
	// Role is ours: sdp.SetupActive (DTLS client) or sdp.SetupPassive.
	Role sdp.Setup
	// Fingerprints are the peer's, from its SDP; its certificate must
	// match one.
	Fingerprints []sdp.Fingerprint
	// Certificate is ours.
	Certificate *Certificate
	// Suites limit the SRTP protection profiles offered and accepted
	// (use_srtp) to those of these SDES suites, in this order; empty
	// means sdp.Suites. A list with no suite that maps to a profile is
	// refused (ErrBadConfig).
	Suites []string
	// Timeout bounds the handshake; DefaultTimeout when zero.
	Timeout time.Duration
	// Logger receives handshake events; nil discards.
	Logger *slog.Logger
	// OnDone, when set, is called once from the Transport's goroutine
	// when the handshake ends: nil when the keys are in place, else why
	// it failed (ErrFingerprint, ErrHandshake, ErrClosed). It must not
	// call Close (which waits for that goroutine).
	OnDone func(err error)
}

// receiver is implemented by the port manager's sockets (portmgr.Receiver).
type receiver interface {
	Receive(fn func(b []byte, from netip.AddrPort), closed func()) (stop func())
}

// Transport is one DTLS-SRTP association on one media socket; see the
// package documentation. Its methods are safe for concurrent use.
type Transport struct {
	cfg      Config
	log      *slog.Logger
	side     *side
	conn     *Conn
	profiles []dtls.SRTPProtectionProfile // use_srtp, from cfg.Suites

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	ready  chan struct{} // closed when the handshake ended, either way
	sess   atomic.Pointer[msrtp.Session]
	early  atomic.Uint64 // datagrams dropped before the keys were in place
	heard  atomic.Bool   // a DTLS record arrived

	errMu sync.Mutex
	err   error

	stopInner func() // removes our receiver from Conn (receiver sockets)
	readers   sync.WaitGroup
	closing   atomic.Bool
	closeOnce sync.Once

	peerMu sync.Mutex // guards peer
	peer   netip.AddrPort

	rmu      sync.RWMutex // guards fn, closedFn (the media session's receiver)
	fn       func(b []byte, from netip.AddrPort)
	closedFn func()
}

// New starts a Transport: its demultiplexer on cfg.Conn and the
// handshake in the role given. Close stops both.
func New(cfg Config) (*Transport, error) {
	if cfg.Conn == nil || cfg.Certificate == nil || len(cfg.Fingerprints) == 0 {
		return nil, fmt.Errorf("%w: Conn, Certificate and Fingerprints are required", ErrBadConfig)
	}
	if cfg.Role != sdp.SetupActive && cfg.Role != sdp.SetupPassive {
		return nil, fmt.Errorf("%w: role %q", ErrBadConfig, cfg.Role)
	}
	if err := sdp.CheckSuites(cfg.Suites); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	profiles := profilesFor(sdp.SuitesOr(cfg.Suites))
	if len(profiles) == 0 {
		return nil, fmt.Errorf("%w: no DTLS-SRTP profile for suites %v", ErrBadConfig, cfg.Suites)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{
		cfg:      cfg,
		log:      log.With("component", "dtls-srtp"),
		profiles: profiles,
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		peer:     cfg.Remote,
	}
	t.side = &side{t: t, in: make(chan []byte, 32), closed: make(chan struct{}), rd: deadline.New(),
		raddr: &net.UDPAddr{IP: net.IPv4zero}}
	t.conn = &Conn{t: t, plain: make(chan packet, 32), rd: deadline.New()}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if r, ok := cfg.Conn.(receiver); ok {
		t.stopInner = r.Receive(t.onDatagram, t.onClosed)
	} else {
		t.readers.Add(1)
		go t.readLoop()
	}
	go t.run()
	return t, nil
}

// Conn is the socket the media session uses in place of Config.Conn: it
// receives everything but DTLS and sends through Config.Conn.
func (t *Transport) Conn() *Conn { return t.conn }

// Ready is closed when the handshake has ended, either way (Err says
// which).
func (t *Transport) Ready() <-chan struct{} { return t.ready }

// Err is nil while the handshake runs or once it succeeded, else why it
// failed.
func (t *Transport) Err() error {
	t.errMu.Lock()
	defer t.errMu.Unlock()
	return t.err
}

// Heard reports whether a DTLS record arrived on the socket: the far end
// reaches it.
func (t *Transport) Heard() bool { return t.heard.Load() }

// Secured reports whether the SRTP keys are in place.
func (t *Transport) Secured() bool { return t.sess.Load() != nil }

// SetRemote changes where handshake records go before the peer was
// heard (a re-INVITE with a new address).
func (t *Transport) SetRemote(a netip.AddrPort) {
	t.peerMu.Lock()
	t.peer = a
	t.peerMu.Unlock()
}

func (t *Transport) peerAddr() netip.AddrPort {
	t.peerMu.Lock()
	defer t.peerMu.Unlock()
	return t.peer
}

// isDTLS applies RFC 7983 §7: a first byte of 20..63 is a DTLS record.
func isDTLS(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

// onDatagram demultiplexes one datagram of the socket.
func (t *Transport) onDatagram(b []byte, from netip.AddrPort) {
	if isDTLS(b) {
		if !t.heard.Load() {
			t.heard.Store(true)
		}
		if t.sess.Load() == nil && from.IsValid() {
			// Until the handshake is done, answer where the peer's
			// records come from (its NAT's mapping, not its SDP).
			t.peerMu.Lock()
			t.peer = from
			t.peerMu.Unlock()
		}
		select {
		case t.side.in <- append([]byte(nil), b...):
		default: // a flood of records: pion retransmits what matters
		}
		return
	}
	t.rmu.RLock()
	if fn := t.fn; fn != nil {
		fn(b, from)
		t.rmu.RUnlock()
		return
	}
	t.rmu.RUnlock()
	select {
	case t.conn.plain <- packet{b: append([]byte(nil), b...), from: from}:
	default:
	}
}

// onClosed is the socket's closed callback: the media session's reader
// and the handshake end.
func (t *Transport) onClosed() {
	t.rmu.Lock()
	cb := t.closedFn
	t.fn, t.closedFn = nil, nil
	t.rmu.Unlock()
	if cb != nil {
		cb()
	}
	t.side.close()
}

// readLoop reads a socket without Receive.
func (t *Transport) readLoop() {
	defer t.readers.Done()
	buf := make([]byte, 2048)
	for {
		n, a, err := t.cfg.Conn.ReadFrom(buf)
		if err != nil {
			if t.closing.Load() || errors.Is(err, net.ErrClosed) {
				t.onClosed()
				return
			}
			continue
		}
		var from netip.AddrPort
		if u, ok := a.(*net.UDPAddr); ok {
			from = u.AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		}
		t.onDatagram(buf[:n], from)
	}
}

// run does the handshake and installs the keys, then holds the DTLS
// connection (which answers the peer's retransmissions and alerts) until
// Close.
func (t *Transport) run() {
	defer close(t.done)
	conn, err := t.handshake()
	if err == nil {
		err = t.install(conn)
	}
	if err != nil && t.closing.Load() && !errors.Is(err, ErrFingerprint) {
		err = ErrClosed
	}
	t.errMu.Lock()
	t.err = err
	t.errMu.Unlock()
	close(t.ready)
	switch {
	case errors.Is(err, ErrClosed):
		t.log.Debug("closed before the handshake ended", "role", t.cfg.Role.String(), "raddr", t.peerAddr())
	case err != nil:
		t.log.Warn("handshake failed", "role", t.cfg.Role.String(), "raddr", t.peerAddr(), "err", err)
	default:
		s := t.sess.Load().Stats()
		t.log.Info("srtp keyed by dtls", "role", t.cfg.Role.String(), "raddr", t.peerAddr(), "suite", s.Suite)
	}
	if t.cfg.OnDone != nil {
		t.cfg.OnDone(err)
	}
	<-t.ctx.Done()
	if conn != nil {
		_ = conn.Close()
	}
}

// quiet makes pion log nothing: we log the outcome ourselves.
var quiet = func() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}()

func (t *Transport) handshake() (*dtls.Conn, error) {
	var mismatch atomic.Bool
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			mismatch.Store(true)
			return ErrFingerprint
		}
		for _, fp := range t.cfg.Fingerprints {
			if fp.Matches(raw[0]) {
				return nil
			}
		}
		mismatch.Store(true)
		return ErrFingerprint
	}
	shared := []dtls.Option{
		dtls.WithCertificates(t.cfg.Certificate.tls),
		dtls.WithSRTPProtectionProfiles(t.profiles...),
		dtls.WithInsecureSkipVerify(true), // no CA: the fingerprint is the check
		dtls.WithVerifyPeerCertificate(verify),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithLoggerFactory(quiet),
		// A first flight lost to a NAT not yet open, or reaching a peer
		// that has not read our answer yet, is sent again after 250 ms,
		// not pion's 1 s: the call's first words are not clipped.
		dtls.WithFlightInterval(flightInterval),
	}
	var conn *dtls.Conn
	var err error
	if t.cfg.Role == sdp.SetupActive {
		opts := make([]dtls.ClientOption, 0, len(shared))
		for _, o := range shared {
			opts = append(opts, o)
		}
		conn, err = dtls.ClientWithOptions(t.side, t.side.raddr, opts...)
	} else {
		opts := make([]dtls.ServerOption, 0, len(shared)+1)
		for _, o := range shared {
			opts = append(opts, o)
		}
		opts = append(opts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		conn, err = dtls.ServerWithOptions(t.side, t.side.raddr, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		if mismatch.Load() {
			return nil, ErrFingerprint
		}
		if ctx.Err() != nil && t.ctx.Err() == nil {
			return nil, fmt.Errorf("%w: no answer within %v", ErrHandshake, t.cfg.Timeout)
		}
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return conn, nil
}

// install exports the SRTP keys (RFC 5764 §4.2) and builds the SRTP
// session: client_write_key, server_write_key, client_write_salt,
// server_write_salt, each side sending with its own.
func (t *Transport) install(conn *dtls.Conn) error {
	prof, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		_ = conn.Close()
		return fmt.Errorf("%w: the peer agreed no SRTP profile (use_srtp)", ErrHandshake)
	}
	suite, ok := suiteOf(prof, t.profiles)
	if !ok {
		_ = conn.Close()
		return fmt.Errorf("%w: SRTP profile %#04x was not offered", ErrHandshake, uint16(prof))
	}
	st, ok := conn.ConnectionState()
	if !ok {
		_ = conn.Close()
		return fmt.Errorf("%w: no connection state", ErrHandshake)
	}
	kl, sl, _ := sdp.SuiteKeyLen(suite)
	km, err := st.ExportKeyingMaterial(exporterLabel, nil, 2*(kl+sl))
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("%w: export keys: %w", ErrHandshake, err)
	}
	client := append(append([]byte(nil), km[:kl]...), km[2*kl:2*kl+sl]...)
	server := append(append([]byte(nil), km[kl:2*kl]...), km[2*kl+sl:]...)
	clear(km)
	local, remote := client, server
	if t.cfg.Role == sdp.SetupPassive {
		local, remote = server, client
	}
	s, err := msrtp.NewKeyed(sdp.SRTP{
		Suite:  suite,
		Local:  sdp.Crypto{Suite: suite, Key: local},
		Remote: sdp.Crypto{Suite: suite, Key: remote},
	}, "dtls")
	clear(client)
	clear(server)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	t.sess.Store(s)
	return nil
}

// Stats are the SRTP counters, keying "dtls"; Suite is empty until the
// handshake has finished.
func (t *Transport) Stats() msrtp.Stats {
	if s := t.sess.Load(); s != nil {
		return s.Stats()
	}
	return msrtp.Stats{Keying: "dtls"}
}

// Early is how many datagrams were refused (not sent, or dropped) before
// the keys were in place.
func (t *Transport) Early() uint64 { return t.early.Load() }

// ProtectRTP implements media.Protector; before the keys are in place it
// returns ErrNotReady (nothing is sent in the clear).
func (t *Transport) ProtectRTP(dst, pkt []byte) ([]byte, error) {
	if s := t.sess.Load(); s != nil {
		return s.ProtectRTP(dst, pkt)
	}
	t.early.Add(1)
	return nil, ErrNotReady
}

// UnprotectRTP implements media.Protector.
func (t *Transport) UnprotectRTP(dst, pkt []byte) ([]byte, error) {
	if s := t.sess.Load(); s != nil {
		return s.UnprotectRTP(dst, pkt)
	}
	t.early.Add(1)
	return nil, ErrNotReady
}

// ProtectRTCP implements media.Protector.
func (t *Transport) ProtectRTCP(dst, pkt []byte) ([]byte, error) {
	if s := t.sess.Load(); s != nil {
		return s.ProtectRTCP(dst, pkt)
	}
	t.early.Add(1)
	return nil, ErrNotReady
}

// UnprotectRTCP implements media.Protector.
func (t *Transport) UnprotectRTCP(dst, pkt []byte) ([]byte, error) {
	if s := t.sess.Load(); s != nil {
		return s.UnprotectRTCP(dst, pkt)
	}
	t.early.Add(1)
	return nil, ErrNotReady
}

// Close ends the handshake (OnDone gets ErrClosed if it was still
// running), sends a close_notify on an established association, stops
// the demultiplexer and waits for every goroutine the Transport started.
// It does not close Config.Conn. Close is idempotent and returns nil.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.closing.Store(true)
		t.cancel()
		<-t.done
		t.side.close()
		if t.stopInner != nil {
			t.stopInner()
		} else {
			_ = t.cfg.Conn.SetReadDeadline(time.Now().Add(-time.Second))
			t.readers.Wait()
			_ = t.cfg.Conn.SetReadDeadline(time.Time{})
		}
	})
	return nil
}

// side is the PacketConn the DTLS connection runs on: the records the
// demultiplexer left for it in, writes out through the media socket.
type side struct {
	t      *Transport
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	rd     *deadline.Deadline
	raddr  net.Addr
}

func (s *side) close() { s.once.Do(func() { close(s.closed) }) }

func (s *side) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case <-s.closed:
		return 0, nil, net.ErrClosed
	default:
	}
	select {
	case b := <-s.in:
		return copy(p, b), s.raddr, nil
	case <-s.rd.Done():
		return 0, nil, os.ErrDeadlineExceeded
	case <-s.closed:
		return 0, nil, net.ErrClosed
	}
}

func (s *side) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-s.closed:
		return 0, net.ErrClosed
	default:
	}
	to := s.t.peerAddr()
	if !to.IsValid() || to.Addr().IsUnspecified() || to.Port() == 0 {
		return len(p), nil // nowhere yet: pion retransmits
	}
	return s.t.cfg.Conn.WriteTo(p, net.UDPAddrFromAddrPort(to))
}

func (s *side) Close() error                       { s.close(); return nil }
func (s *side) LocalAddr() net.Addr                { return s.t.cfg.Conn.LocalAddr() }
func (s *side) SetDeadline(d time.Time) error      { s.rd.Set(d); return nil }
func (s *side) SetReadDeadline(d time.Time) error  { s.rd.Set(d); return nil }
func (s *side) SetWriteDeadline(_ time.Time) error { return nil }

// packet is one non-DTLS datagram queued for ReadFrom.
type packet struct {
	b    []byte
	from netip.AddrPort
}

// Conn is the media session's view of the socket: every datagram but
// DTLS, pushed to a receiver (Receive) or queued for ReadFrom; writes go
// straight to the socket. Close does nothing: the port manager owns the
// socket and Transport.Close stops the demultiplexer.
type Conn struct {
	t     *Transport
	plain chan packet
	rd    *deadline.Deadline
}

// Receive has fn called with every datagram that is not DTLS, in the
// socket's reader goroutine (see portmgr.Receiver); closed is called if
// the socket closes while fn is installed.
func (c *Conn) Receive(fn func(b []byte, from netip.AddrPort), closed func()) (stop func()) {
	t := c.t
	t.rmu.Lock()
	t.fn, t.closedFn = fn, closed
	for {
		select {
		case pk := <-c.plain:
			fn(pk.b, pk.from)
			continue
		default:
		}
		break
	}
	t.rmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.rmu.Lock()
			t.fn, t.closedFn = nil, nil
			t.rmu.Unlock()
		})
	}
}

// ReadFrom returns the next queued datagram that is not DTLS.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case pk := <-c.plain:
		return copy(p, pk.b), net.UDPAddrFromAddrPort(pk.from), nil
	case <-c.rd.Done():
		return 0, nil, os.ErrDeadlineExceeded
	case <-c.t.ctx.Done():
		return 0, nil, net.ErrClosed
	}
}

// addrPortWriter is implemented by *net.UDPConn and portmgr's sockets.
type addrPortWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// WriteTo sends through the socket.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) { return c.t.cfg.Conn.WriteTo(p, addr) }

// WriteToUDPAddrPort sends through the socket without a net.Addr.
func (c *Conn) WriteToUDPAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if w, ok := c.t.cfg.Conn.(addrPortWriter); ok {
		return w.WriteToUDPAddrPort(p, addr)
	}
	return c.t.cfg.Conn.WriteTo(p, net.UDPAddrFromAddrPort(addr))
}

func (c *Conn) Close() error                       { return nil }
func (c *Conn) LocalAddr() net.Addr                { return c.t.cfg.Conn.LocalAddr() }
func (c *Conn) SetDeadline(d time.Time) error      { c.rd.Set(d); return nil }
func (c *Conn) SetReadDeadline(d time.Time) error  { c.rd.Set(d); return nil }
func (c *Conn) SetWriteDeadline(_ time.Time) error { return nil }

var (
	_ net.PacketConn = (*Conn)(nil)
	_ net.PacketConn = (*side)(nil)
	_ receiver       = (*Conn)(nil)
)
