package pbx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/deskphone/phone/voip/sip/digest"
	"github.com/deskphone/phone/voip/sip/sipstream"
)

// Server is the registrar, proxy and service host. Make one with New,
// then Start it (or Serve it); Close stops everything.
type Server struct {
	cfg    Config
	log    *slog.Logger
	nonces *digest.Nonces
	reg    *registrar

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	udp     net.PacketConn
	udpAddr netip.AddrPort
	laddr   sip.Addr // the UDP listener, to pin client requests to it
	tcpL    net.Listener
	tlsL    net.Listener
	adv     netip.Addr

	ctx    context.Context // lifetime context, cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	panics atomic.Int64 // recovered handler panics, for the fuzz test

	events events // the event server (events.go)

	mu       sync.Mutex // guards following
	started  bool
	closed   bool
	dialogs  map[string]*dialog      // proxied dialogs by Call-ID
	services map[string]*serviceCall // service calls by Call-ID
}

// New checks cfg, opens the SIP sockets through cfg.Net (or adopts
// cfg.Conn) and prepares the SIP stack. Nothing is served until Start.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "pbx"),
		nonces:   digest.NewNonces(nil, cfg.NonceLifetime),
		dialogs:  make(map[string]*dialog),
		services: make(map[string]*serviceCall),
	}
	s.nonces.Now = cfg.Now
	s.reg = newRegistrar(cfg.Now)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	if err := s.openSockets(); err != nil {
		s.closeSockets()
		return nil, err
	}

	sipLog := cfg.Logger.With("component", "pbx/sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("deskphone-pbx"),
		sipgo.WithUserAgentHostname(s.advHost()),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.handleStrayResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
	)
	if err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("pbx: sipgo: %w", err)
	}
	s.ua = ua
	s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err == nil {
		s.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog),
			sipgo.WithClientHostname(s.advHost()), sipgo.WithClientPort(int(s.udpAddr.Port())))
	}
	if err != nil {
		ua.Close()
		s.closeSockets()
		return nil, fmt.Errorf("pbx: sipgo: %w", err)
	}
	for _, m := range []sip.RequestMethod{sip.REGISTER, sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL,
		sip.OPTIONS, sip.PRACK, sip.INFO, sip.UPDATE, sip.MESSAGE, sip.NOTIFY, sip.SUBSCRIBE, sip.REFER} {
		s.srv.OnRequest(m, s.handle)
	}
	s.srv.OnNoRoute(s.handle)
	return s, nil
}

// openSockets binds the UDP socket (or adopts cfg.Conn) and the optional
// TCP and TLS listeners, all through cfg.Net.
func (s *Server) openSockets() error {
	c := s.cfg
	if c.Conn != nil {
		s.udp = c.Conn
	} else {
		conn, err := c.Net.ListenPacket("udp", c.Listen.String())
		if err != nil {
			return fmt.Errorf("pbx: listen udp %s: %w", c.Listen, err)
		}
		s.udp = conn
	}
	ua, ok := s.udp.LocalAddr().(*net.UDPAddr)
	if !ok {
		return fmt.Errorf("%w: UDP socket local address %v", ErrConfig, s.udp.LocalAddr())
	}
	ap := ua.AddrPort()
	s.udpAddr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s.laddr = sip.Addr{IP: ua.IP, Port: ua.Port}
	s.adv = c.Advertise
	if !s.adv.IsValid() {
		s.adv = s.udpAddr.Addr()
		if s.adv.IsUnspecified() {
			s.adv = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	}
	if c.TCP.IsValid() {
		l, err := c.Net.ListenTCP("tcp", net.TCPAddrFromAddrPort(c.TCP))
		if err != nil {
			return fmt.Errorf("pbx: listen tcp %s: %w", c.TCP, err)
		}
		s.tcpL = s.bounded(l)
	}
	if c.TLS.IsValid() {
		l, err := c.Net.ListenTCP("tcp", net.TCPAddrFromAddrPort(c.TLS))
		if err != nil {
			return fmt.Errorf("pbx: listen tls %s: %w", c.TLS, err)
		}
		// Bounded outside TLS, so the timeouts follow SIP messages and
		// also cover a handshake that never completes.
		s.tlsL = s.bounded(tls.NewListener(l, c.TLSConfig))
	}
	return nil
}

// bounded caps the connections a stream listener holds and bounds how
// long a client can keep one without sending a whole message.
func (s *Server) bounded(l net.Listener) net.Listener {
	c := s.cfg
	return &sipstream.Listener{Listener: l, MaxConns: c.MaxStreamConns, MaxPerAddr: c.MaxStreamConnsPerAddr,
		MessageTimeout: c.StreamMessageTimeout, IdleTimeout: c.StreamIdleTimeout, Logger: s.log}
}

// StreamStats returns the TCP and TLS connections open and refused over
// the caps.
func (s *Server) StreamStats() (open, refused int) {
	for _, l := range []net.Listener{s.tcpL, s.tlsL} {
		if b, ok := l.(*sipstream.Listener); ok {
			o, r := b.Stats()
			open, refused = open+o, refused+r
		}
	}
	return open, refused
}

func (s *Server) closeSockets() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcpL != nil {
		s.tcpL.Close()
	}
	if s.tlsL != nil {
		s.tlsL.Close()
	}
}

// Addr returns the UDP SIP address the server listens on.
func (s *Server) Addr() netip.AddrPort { return s.udpAddr }

// TCPAddr returns the TCP listener's address, or the zero value.
func (s *Server) TCPAddr() netip.AddrPort { return listenerAddr(s.tcpL) }

// TLSAddr returns the TLS listener's address, or the zero value.
func (s *Server) TLSAddr() netip.AddrPort { return listenerAddr(s.tlsL) }

// Realm returns the digest realm (also the SIP domain).
func (s *Server) Realm() string { return s.cfg.Realm }

func listenerAddr(l net.Listener) netip.AddrPort {
	if l == nil {
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(l.Addr().String())
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}

// Start serves the sockets in the background until Close.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return ErrStarted
	}
	s.started = true
	s.goServe("udp", func() error { return s.srv.ServeUDP(s.udp) })
	if s.tcpL != nil {
		s.goServe("tcp", func() error { return s.srv.ServeTCP(s.tcpL) })
	}
	if s.tlsL != nil {
		// The listener already wraps TLS; sipgo's TLS transport only
		// needs to read and write it as a stream.
		s.goServe("tls", func() error { return s.srv.ServeTLS(s.tlsL) })
	}
	s.log.Info("pbx listening", "udp", s.udpAddr, "tcp", s.TCPAddr(), "tls", s.TLSAddr(),
		"realm", s.cfg.Realm, "natfix", s.cfg.NATFix)
	return nil
}

func (s *Server) goServe(network string, f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
			s.log.Error("serve stopped", "network", network, "err", err)
		}
	}()
}

// Serve starts the server and blocks until ctx is done, then closes it.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// Close stops the service calls, the SIP stack and the sockets and waits
// for every goroutine. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	calls := make([]*serviceCall, 0, len(s.services))
	for _, c := range s.services {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range calls {
		c.stop()
	}
	s.closeSockets()
	s.ua.Close()
	s.wg.Wait()
	return nil
}

// goCall runs f on a goroutine that Close waits for. It reports false
// when the server is closing and f was not started.
func (s *Server) goCall(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// handle is the entry point for every request sipgo's transaction layer
// passes up. Malformed requests are answered 400 or dropped.
func (s *Server) handle(req *sip.Request, tx sip.ServerTransaction) {
	defer func() {
		// sipgo hands us parsed messages; a bug of ours on a strange one
		// must not take the PBX down.
		if r := recover(); r != nil {
			s.panics.Add(1)
			s.log.Error("request handler panic", "method", req.Method, "panic", r)
		}
	}()
	if req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		if !req.IsAck() && tx != nil {
			s.respond(tx, req, sip.StatusBadRequest, "Missing Mandatory Header")
		}
		return
	}
	// The server transaction reads the request on its own goroutine (its
	// 100 Trying timer, RFC 3261 §17.2.1, fires when a busy handler has
	// not answered within 200 ms): change a copy, never the original.
	req = req.Clone()
	fixVia(req)
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && !req.IsAck() {
		s.respond(tx, req, 483, "Too Many Hops")
		return
	}
	s.log.Debug("request", "method", req.Method, "ruri", req.Recipient.String(), "raddr", req.Source(),
		"call_id", req.CallID().Value())
	_, inDialog := req.To().Params.Get("tag")
	if s.handleEvent(req, tx, inDialog) {
		return // SUBSCRIBE for message-summary or dialog (events.go)
	}
	switch {
	case req.Method == sip.REGISTER:
		s.handleRegister(req, tx)
	case inDialog:
		if c := s.service(req.CallID().Value()); c != nil {
			c.handleInDialog(req, tx)
			return
		}
		s.proxyInDialog(req, tx)
	case req.IsInvite():
		s.handleInitialInvite(req, tx)
	case req.IsAck():
		// An ACK without To tag that matched no transaction: nothing to do.
	case req.IsCancel():
		// CANCELs that match an INVITE transaction never get here
		// (sipgo answers them); this one matches nothing.
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "")
	case req.Method == sip.OPTIONS && (req.Recipient.User == "" || isService(req.Recipient.User)):
		s.respondOptions(req, tx)
	default:
		s.proxyOutOfDialog(req, tx)
	}
}

// fixVia adds received and rport to the top Via of a received request
// (RFC 3261 §18.2.1, RFC 3581 §4), so responses and a NAT-aware
// registrar know where the request really came from.
func fixVia(req *sip.Request) {
	via := req.Via()
	host, port, err := net.SplitHostPort(req.Source())
	if via == nil || err != nil {
		return
	}
	if via.Params == nil {
		via.Params = sip.NewParams()
	}
	via.Params.Add("received", host)
	via.Params.Add("rport", port)
}

// source returns where a received request came from.
func source(req *sip.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// allowed lists the methods the PBX handles.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, INFO, UPDATE, MESSAGE, NOTIFY, SUBSCRIBE, REFER, REGISTER"

func (s *Server) respondOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, sip.StatusOK, "",
		sip.NewHeader("Allow", allowed),
		sip.NewHeader("Accept", "application/sdp"),
		sip.NewHeader("Supported", "100rel"))
}

// ownTagPrefix starts the To tag of every final response the PBX itself
// sends to a request without one, so that an ACK for it (RFC 3261
// §17.1.1.3) that arrives after its transaction ended (over TCP and TLS
// sipgo ends it as soon as the handler returns) is not taken for an ACK
// of the dialog and forwarded to the callee.
const ownTagPrefix = "pbx-"

// respond sends a response built from req with extra headers.
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	if tx == nil {
		return
	}
	if reason == "" {
		reason = reasonPhrase(code)
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && code > 100 {
		if _, had := req.To().Params.Get("tag"); !had {
			to.Params.Add("tag", ownTagPrefix+sip.GenerateTagN(12))
		}
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "code", code, "err", err)
	}
}

// respondOverride sends an Override's response.
func (s *Server) respondOverride(tx sip.ServerTransaction, req *sip.Request, o Override) {
	s.respond(tx, req, o.Code, o.Reason, o.Headers...)
}

func reasonPhrase(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 183:
		return "Session Progress"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 420:
		return "Bad Extension"
	case 423:
		return "Interval Too Brief"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 483:
		return "Too Many Hops"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	}
	return "Status " + strconv.Itoa(code)
}

// isOurs reports whether uri (a Route entry) points at this server.
func (s *Server) isOurs(uri sip.Uri) bool {
	ip, err := netip.ParseAddr(strings.Trim(uri.Host, "[]"))
	if err != nil {
		return strings.EqualFold(uri.Host, s.cfg.Realm) && uri.Port == 0
	}
	ip = ip.Unmap()
	if ip != s.adv && ip != s.udpAddr.Addr() {
		return false
	}
	port := uri.Port
	if port == 0 {
		port = 5060
	}
	for _, ap := range []netip.AddrPort{s.udpAddr, s.TCPAddr(), s.TLSAddr()} {
		if ap.IsValid() && int(ap.Port()) == port {
			return true
		}
	}
	return false
}

// advHost is the advertised IP as a SIP host: IPv6 in brackets (RFC 3261
// §25.1 IPv6reference).
func (s *Server) advHost() string {
	if s.adv.Is6() && !s.adv.Is4In6() {
		return "[" + s.adv.String() + "]"
	}
	return s.adv.Unmap().String()
}
