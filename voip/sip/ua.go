package sip

import (
	"bytes"
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
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

type (
	sipRequest  = siplib.Request
	sipResponse = siplib.Response
)

// closeGrace is how long Close lets in-flight requests settle.
const closeGrace = 50 * time.Millisecond

// allowMethods is what we answer in Allow headers.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, PRACK, REFER, NOTIFY"

// maxEndedDialogs is how many ended dialogs the UA remembers, so that an
// INVITE with Replaces naming one gets 603 rather than 481 (RFC 3891 §3).
const maxEndedDialogs = 32

// UA is the phone's SIP user agent: it registers the account, places and
// receives calls, and owns every goroutine it starts. Sockets and the
// addresses it advertises come from Config.Mapper.
type UA struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // lifetime, cancelled by Close
	cancel context.CancelFunc
	events *eventQueue
	sua    *sipgo.UserAgent
	txl    *siplib.TransactionLayer
	tpl    *siplib.TransportLayer
	tr     portmgr.Transport
	wg     sync.WaitGroup
	// closing is set when Close begins (read without the lock by sipgo's reader).
	closing atomic.Bool
	// ownSockets counts the times sipgo set out to open a UDP socket of
	// its own (see socketWatch); it must stay zero.
	ownSockets atomic.Uint64
	// readErrs counts SIP socket read errors guardConn retried.
	readErrs atomic.Uint64

	// sendMu is held (read) while a request is handed to sipgo and
	// (write) while the SIP socket is released, so no request reaches
	// sipgo once its pooled listener is gone (sipgo would open a socket
	// of its own for it).
	sendMu   sync.RWMutex
	sockGone bool        // guarded by sendMu: the SIP socket is released
	udpKey   string      // sipgo's pool key of the UDP listener
	udpLaddr siplib.Addr // Laddr that makes sipgo send from it

	dtls dtlsIdentity // the DTLS-SRTP certificate (call_dtls.go)

	mu         sync.Mutex // guards following
	started    bool
	closed     bool
	sipMap     *portmgr.Mapping
	streamPort int               // local port of the TCP/TLS connection, once dialled
	streamConn siplib.Connection // that connection
	calls      map[string]*Call
	claims     map[string]bool // Call-IDs of incoming INVITEs being set up
	ended      []dialogID      // the last maxEndedDialogs dialogs that ended
	reg        RegStatus
	regKick    chan struct{}
	server     netip.AddrPort // resolved registrar/proxy, for the SIP mapping
	regCallID  string
	regDone    chan struct{}
	regr       *registrar

	tgt   *targets   // server resolution and failover (target.go)
	adm   *admission // incoming-request admission (admit.go)
	tstat TransportStatus
	flow  *flow         // the TCP/TLS connection to the server (nil over UDP)
	subs  subscriptions // SUBSCRIBE/NOTIFY (subscribe.go)
}

// New validates cfg and returns an idle UA; Start makes it work.
func New(cfg Config) (*UA, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "sip")
	warnMissingCodecs(log, cfg.Codecs) // codecwarn.go
	ctx, cancel := context.WithCancel(context.Background())
	u := &UA{
		cfg:       cfg,
		log:       log,
		ctx:       ctx,
		cancel:    cancel,
		events:    newEventQueue(cfg.EventBuffer),
		tr:        cfg.transport(),
		calls:     map[string]*Call{},
		regKick:   make(chan struct{}, 1),
		regCallID: newCallID(),
		reg:       RegStatus{State: RegUnregistered},
		adm:       newAdmission(&cfg),
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.Account.TLS != nil {
		tlsConf = cfg.Account.TLS.Clone()
	}
	sua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentParser(newParser()),
		sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentDNSResolver(cfg.Resolver),
		sipgo.WithUserAgentTransportLayerOptions(
			siplib.WithTransportLayerLogger(slog.New(&socketWatch{
				next:  log.With("layer", "transport").Handler(),
				onUDP: u.onOwnSocket,
			})),
			siplib.WithTransportLayerReadFilter(u.readFilter),
			// After the read filter: the transports copy it.
			siplib.WithTransportLayerTransports(siplib.TransportsConfig{
				TCP: &siplib.TransportTCP{DialerCreate: u.flowDialer},
				TLS: &siplib.TransportTLS{TransportTCP: &siplib.TransportTCP{DialerCreate: u.flowDialer}},
			}),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			siplib.WithTransactionLayerLogger(log.With("layer", "transaction")),
			siplib.WithTransactionLayerUnhandledResponseHandler(u.onStrayResponse),
		),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("sip: new sipgo UA: %w", err)
	}
	u.sua = sua
	u.txl = sua.TransactionLayer()
	u.tpl = sua.TransportLayer()
	u.txl.OnRequest(u.onRequestAdmitted)
	return u, nil
}

// Events delivers registration, call and DTMF events in order. The
// channel is closed by Close. Events never block the SIP stack: they are
// queued (Config.EventBuffer deep) and the oldest is dropped when the
// reader falls behind.
func (u *UA) Events() <-chan Event { return u.events.out }

// DroppedEvents is how many events were dropped because the queue was full.
func (u *UA) DroppedEvents() uint64 { return u.events.droppedCount() }

// Start takes the SIP socket from the port manager, serves it, and starts
// registering when a registrar is configured. ctx bounds only the start
// itself; the UA runs until Close.
func (u *UA) Start(ctx context.Context) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return ErrClosed
	}
	if u.started {
		u.mu.Unlock()
		return errors.New("sip: already started")
	}
	u.started = true
	u.mu.Unlock()

	u.wg.Add(1)
	go func() { defer u.wg.Done(); u.events.run() }()

	return u.boot(ctx)
}

// readFilter drops requests once Close has begun: a request handled after
// the SIP socket left sipgo's pool would make sipgo open a socket of its
// own to answer it. Responses still pass (un-REGISTER, BYE).
func (u *UA) readFilter(props siplib.TransportReadProps, data []byte) ([]byte, error) {
	if u.closing.Load() && !bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
		return nil, nil
	}
	// Rate limits first, so a flood is not answered; then the pre-parse
	// answers what sipgo could not parse.
	if !u.adm.admitDatagram(props, data) {
		return nil, nil
	}
	return u.preparse(props, data), nil
}

// Close hangs up every call, un-REGISTERs (waiting at most
// Config.CloseTimeout), stops every goroutine and releases the sockets.
// It is idempotent.
func (u *UA) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.closing.Store(true)
	started := u.started
	calls := make([]*Call, 0, len(u.calls))
	for _, c := range u.calls {
		calls = append(calls, c)
	}
	mp := u.sipMap
	regDone := u.regDone
	u.mu.Unlock()

	if started {
		ctx, cancel := context.WithTimeout(context.Background(), u.cfg.CloseTimeout)
		var wg sync.WaitGroup
		for _, c := range calls {
			wg.Add(1)
			go func() { defer wg.Done(); c.hangupAndWait(ctx) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); u.subs.closeAll(ctx) }() // un-SUBSCRIBE
		// Stop the registration loop, then un-REGISTER on its Call-ID.
		u.cancel()
		if regDone != nil {
			<-regDone
			if u.Registration().State == RegRegistered {
				u.unregister(ctx)
			}
		}
		wg.Wait()
		cancel()
	}
	u.cancel()
	for _, c := range calls {
		c.finish(0, "closed", false)
	}
	// Requests read just before closing began are still on their way
	// through sipgo's goroutines to a pooled connection; give them a
	// moment, so none looks the socket up after it left the pool (sipgo
	// would then open a socket of its own to answer).
	time.Sleep(closeGrace)
	// From here on no request may reach sipgo: its pooled listener goes
	// away with the socket.
	u.sendMu.Lock()
	u.sockGone = true
	u.sendMu.Unlock()
	// Close the socket first so sipgo's reader stops, then the layers.
	var err error
	if mp != nil {
		if e := u.cfg.Mapper.Release(mp); e != nil && !errors.Is(e, portmgr.ErrClosed) && !errors.Is(e, portmgr.ErrUnknownMapping) {
			err = e
		}
	}
	if u.flow != nil {
		u.flow.close()
	}
	if u.tr != portmgr.UDP {
		u.closeStream()
	}
	u.sua.Close()
	u.events.close()
	u.wg.Wait()
	return err
}

// onOwnSocket is called by socketWatch when sipgo is about to open a UDP
// socket of its own: a bug, since every socket must come from the port
// manager.
func (u *UA) onOwnSocket(detail string) {
	u.ownSockets.Add(1)
	u.log.Error("sipgo opens a UDP socket of its own (not from the port manager)", "detail", detail)
	if h := ownSocketHook; h != nil {
		h(detail)
	}
}

func (u *UA) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

func (u *UA) emit(ev Event) {
	if _, ok := ev.(*RegistrationEvent); ok {
		u.adm.markStale() // the proxy may have moved: resolve it again
	}
	u.events.push(ev)
	if ce, ok := ev.(*CallEvent); ok && ce.Call.notify != nil {
		// A call placed for a REFER: its progress goes to the referrer.
		ce.Call.notify.progress(ce)
	}
}

// go runs f on a goroutine the UA waits for in Close.
func (u *UA) goFn(f func()) bool {
	u.mu.Lock()
	if u.closed && u.ctx.Err() != nil {
		u.mu.Unlock()
		return false
	}
	u.wg.Add(1)
	u.mu.Unlock()
	go func() { defer u.wg.Done(); f() }()
	return true
}

// Calls returns the calls that have not ended.
func (u *UA) Calls() []*Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]*Call, 0, len(u.calls))
	for _, c := range u.calls {
		out = append(out, c)
	}
	return out
}

func (u *UA) addCall(c *Call) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	u.calls[c.id] = c
	return true
}

// claimCallID reserves a Call-ID for an incoming INVITE being set up; it
// fails when a call or another setup holds it already.
func (u *UA) claimCallID(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.calls[id] != nil || u.claims[id] {
		return false
	}
	if u.claims == nil {
		u.claims = map[string]bool{}
	}
	u.claims[id] = true
	return true
}

func (u *UA) unclaimCallID(id string) {
	u.mu.Lock()
	delete(u.claims, id)
	u.mu.Unlock()
}

func (u *UA) removeCall(c *Call) {
	c.mu.Lock()
	id := dialogID{callID: c.id, localTag: c.d.localTag, remoteTag: c.d.remoteTag}
	c.mu.Unlock()
	u.mu.Lock()
	if u.calls[c.id] == c {
		delete(u.calls, c.id)
	}
	if len(u.ended) >= maxEndedDialogs {
		u.ended = append(u.ended[:0], u.ended[1:]...)
	}
	u.ended = append(u.ended, id)
	u.mu.Unlock()
}

// dialogID names a dialog (RFC 3261 §12): Call-ID and the two tags.
type dialogID struct{ callID, localTag, remoteTag string }

// endedRecently reports whether the dialog ended not long ago.
func (u *UA) endedRecently(callID, localTag, remoteTag string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, d := range u.ended {
		if d == (dialogID{callID, localTag, remoteTag}) {
			return true
		}
	}
	return false
}

func (u *UA) callByID(id string) *Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[id]
}

// ---- addresses -----------------------------------------------------------

func (u *UA) mapping() *portmgr.Mapping {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sipMap
}

// external is the sent-by / Contact address: Mapping.External, with the
// port of the dialled connection for TCP and TLS.
func (u *UA) external() netip.AddrPort {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sipMap == nil {
		return netip.AddrPort{}
	}
	ext := u.sipMap.External()
	if u.tr != portmgr.UDP {
		return netip.AddrPortFrom(ext.Addr(), uint16(u.streamPort))
	}
	return ext
}

func (u *UA) transportName() string {
	switch u.tr {
	case portmgr.TCP:
		return "TCP"
	case portmgr.TLS:
		return "TLS"
	}
	return "UDP"
}

func (u *UA) scheme() string {
	if u.tr == portmgr.TLS {
		return "sips"
	}
	return "sip"
}

// aor is our address of record, sip:user@domain.
func (u *UA) aor() siplib.Uri {
	a := u.cfg.Account
	host := a.Domain
	if host == "" {
		if ext := u.external(); ext.IsValid() {
			host = ext.Addr().String()
		}
	}
	user := a.User
	if user == "" {
		user = "phone"
	}
	return siplib.Uri{Scheme: u.scheme(), User: user, Host: host}
}

// contactURI is where we can be reached: the external address of the SIP
// mapping, never an interface address.
func (u *UA) contactURI() siplib.Uri {
	ext := u.external()
	user := u.cfg.Account.User
	if user == "" {
		user = "phone"
	}
	c := siplib.Uri{Scheme: u.scheme(), User: user, Host: ext.Addr().String(), Port: int(ext.Port())}
	switch u.tr {
	case portmgr.TCP:
		c.UriParams = siplib.HeaderParams{{K: "transport", V: "tcp"}}
	case portmgr.TLS:
		c.UriParams = siplib.HeaderParams{{K: "transport", V: "tls"}}
	}
	return c
}

func (u *UA) contactHeader() *siplib.ContactHeader {
	return &siplib.ContactHeader{Address: u.contactURI(), Params: siplib.NewParams()}
}

// newVia is our Via: sent-by from the mapping's external address, a fresh
// branch, and an empty rport so the far end reports the source address it
// saw (RFC 3581 §3).
func (u *UA) newVia() *siplib.ViaHeader {
	ext := u.external()
	v := &siplib.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       u.transportName(),
		Host:            ext.Addr().String(),
		Port:            int(ext.Port()),
		Params:          siplib.NewParams(),
	}
	v.Params.Add("branch", siplib.GenerateBranchN(16))
	v.Params.Add("rport", "")
	return v
}

// outboundRoute is the preloaded route to the outbound proxy, if any.
func (u *UA) outboundRoute() (siplib.Uri, bool) {
	if u.cfg.Account.OutboundProxy == "" {
		return siplib.Uri{}, false
	}
	r, err := parseServer(u.cfg.Account.OutboundProxy, u.cfg.Account.Transport)
	if err != nil {
		return r, false
	}
	if r.UriParams == nil {
		r.UriParams = siplib.NewParams()
	}
	r.UriParams.Add("lr", "")
	if u.tr == portmgr.TCP {
		r.UriParams.Add("transport", "tcp")
	}
	return r, true
}

// ---- sending ---------------------------------------------------------------

// pinAddr turns a UDP socket's LocalAddr string (sipgo's pool key) into
// the Laddr that makes sipgo's ClientRequestConnection find that socket.
func pinAddr(key string) (siplib.Addr, error) {
	ap, err := netip.ParseAddrPort(key)
	if err != nil {
		return siplib.Addr{}, fmt.Errorf("sip: SIP socket address %q: %w", key, err)
	}
	a := siplib.Addr{IP: net.IP(ap.Addr().Unmap().AsSlice()), Port: int(ap.Port())}
	if a.String() != key || a.Port == 0 {
		return siplib.Addr{}, fmt.Errorf("sip: SIP socket address %q cannot be pinned (prints as %q)", key, a.String())
	}
	return a, nil
}

// errNoSocket is returned for a request that cannot go out from the
// pooled SIP socket (the UA is closing): sipgo is never asked to send it,
// since it would open a socket of its own.
var errNoSocket = errors.New("sip: SIP socket is closed")

// sendRequest is the one way a request reaches sipgo: with tx it starts a client
// transaction, otherwise it writes the request outside any transaction
// (ACK for a 2xx). Over UDP it pins the request to the pooled SIP socket
// (Laddr equal to its pool key, which must still be in the pool), under
// sendMu so the socket cannot be released meanwhile. Over TCP and TLS
// sipgo dials (or reuses) the connection first so Via and Contact carry
// its local port.
func (u *UA) sendRequest(ctx context.Context, req *sipRequest, tx bool) (siplib.ClientTransaction, error) {
	req.SetTransport(u.transportName())
	if req.ContentLength() == nil {
		// Stream transports frame messages by it (RFC 3261 §20.14): a
		// BYE without it is never complete at the far end.
		req.SetBody(req.Body())
	}
	if err := u.routeToTarget(req); err != nil {
		return nil, err
	}
	u.sendMu.RLock()
	defer u.sendMu.RUnlock()
	if u.sockGone || u.mapping() == nil {
		return nil, errNoSocket
	}
	if u.tr == portmgr.UDP {
		req.Laddr = u.udpLaddr
		c := u.tpl.Pool("udp").Get(u.udpKey)
		if c == nil {
			return nil, errNoSocket
		}
		c.TryClose() // Get took a reference
	} else if err := u.learnStreamPort(ctx, req); err != nil {
		return nil, err
	}
	if !tx {
		return nil, u.tpl.WriteMsg(req)
	}
	ct, err := u.txl.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	// A transaction on a TCP/TLS flow that closed fails at once instead
	// of after Timer F, so the UA registers again on the new flow within
	// seconds (flowtx.go).
	return u.watchFlow(ct), nil
}

// request starts a client transaction for req.
func (u *UA) request(ctx context.Context, req *sipRequest) (siplib.ClientTransaction, error) {
	if u.isClosed() && u.ctx.Err() != nil && req.Method != siplib.REGISTER && req.Method != siplib.BYE && req.Method != siplib.CANCEL {
		return nil, ErrClosed
	}
	tx, err := u.sendRequest(ctx, req, true)
	if err != nil {
		return nil, fmt.Errorf("sip: send %s: %w", req.Method, err)
	}
	return tx, nil
}

// learnStreamPort dials (or reuses) the TCP/TLS connection for req before
// the request is written, so Via and Contact carry its real local port.
func (u *UA) learnStreamPort(ctx context.Context, req *sipRequest) error {
	if u.flow != nil {
		// The flow is ours to dial, so that its end is noticed.
		if err := u.flow.ensure(ctx); err != nil {
			return err
		}
	}
	conn, err := u.tpl.ClientRequestConnection(ctx, req)
	if err != nil {
		return fmt.Errorf("sip: connect %s: %w", req.Destination(), err)
	}
	defer conn.TryClose()
	_, p, err := net.SplitHostPort(conn.LocalAddr().String())
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(p)
	u.mu.Lock()
	u.streamPort = port
	u.streamConn = conn
	u.mu.Unlock()
	if v := req.Via(); v != nil && v.Port == 0 {
		v.Port = port
	}
	for _, h := range req.GetHeaders("Contact") {
		if c, ok := h.(*siplib.ContactHeader); ok && c.Address.Port == 0 {
			c.Address.Port = port
		}
	}
	return nil
}

// closeStream closes the TCP/TLS connection so that its reader drops the
// last reference. Left to sipgo's Close, the pool's hard close zeroes the
// reference count under the running reader, whose own release then takes
// it below zero ("TCP ref went negative"). The transactions go first
// (each holds a reference), then the connection leaves the pool (so the
// hard close never sees it) and gives up its idle reference; closing the
// socket ends the reader, which releases the last one.
func (u *UA) closeStream() {
	u.mu.Lock()
	c := u.streamConn
	u.streamConn = nil
	u.mu.Unlock()
	tc, ok := c.(*siplib.TCPConnection)
	if !ok {
		return
	}
	u.txl.Close()
	pool := u.tpl.Pool(strings.ToLower(u.transportName()))
	pooled := false
	for _, k := range []string{tc.LocalAddr().String(), tc.RemoteAddr().String()} {
		if got := pool.Get(k); got != nil {
			got.TryClose() // Get took a reference
			if got == c {
				pool.Delete(k)
				pooled = true
			}
		}
	}
	if !pooled {
		return // already gone: its reader has ended
	}
	tc.Ref(-siplib.TransportIdleConnection)
	tc.Conn.Close()
}

// write sends a request outside any transaction (ACK for a 2xx).
func (u *UA) write(req *sipRequest) error {
	_, err := u.sendRequest(context.Background(), req, false)
	return err
}

// do sends req and waits for its final response.
func (u *UA) do(ctx context.Context, req *sipRequest) (*sipResponse, error) {
	tx, err := u.request(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				if errors.Is(err, siplib.ErrTransactionTimeout) {
					return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, req.Method, err)
				}
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: transaction ended", ErrTimeout, req.Method)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// baseRequest builds an out-of-dialog request with our From, a new
// Call-ID unless given, Via, Max-Forwards and the outbound route.
func (u *UA) baseRequest(method siplib.RequestMethod, ruri siplib.Uri, to *siplib.ToHeader, callID string, cseq uint32) *sipRequest {
	req := siplib.NewRequest(method, ruri)
	req.AppendHeader(u.newVia())
	mf := siplib.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &siplib.FromHeader{DisplayName: wireName(u.cfg.Account.DisplayName), Address: u.aor(), Params: siplib.NewParams()}
	from.Params.Add("tag", newTag())
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := siplib.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: cseq, MethodName: method})
	if r, ok := u.outboundRoute(); ok {
		req.AppendHeader(&siplib.RouteHeader{Address: r})
	}
	req.AppendHeader(siplib.NewHeader("User-Agent", u.cfg.UserAgent))
	return req
}

// ---- incoming ---------------------------------------------------------------

// onRequest is sipgo's transaction-layer entry for every request, on its
// own goroutine. Bad requests are answered with 4xx, never a panic.
func (u *UA) onRequest(req *sipRequest, tx *siplib.ServerTx) {
	defer func() {
		if r := recover(); r != nil {
			u.log.Error("panic handling request (answered 500)", "panic", r)
			u.respond(tx, req, 500, "Server Internal Error")
		}
	}()
	if req.IsAck() {
		u.onACK(req)
		tx.Terminate()
		return
	}
	if u.isClosed() {
		tx.Terminate()
		return
	}
	if code, reason := validate(req); code != 0 {
		u.log.Debug("rejecting bad request", "code", code, "method", req.Method)
		u.respond(tx, req, code, reason)
		return
	}
	if req.Method != siplib.CANCEL {
		// RFC 3261 §8.2.2.3: unknown Require option tags get 420.
		if bad := u.unsupportedRequire(req); len(bad) > 0 {
			res := u.newResponse(req, 420, "Bad Extension")
			res.AppendHeader(siplib.NewHeader("Unsupported", strings.Join(bad, ", ")))
			u.send(tx, res)
			return
		}
	}
	if req.Method == siplib.NOTIFY && u.handleNotify(req, tx) {
		return // subscriptions and MWI (subnotify.go); Event: refer falls through
	}
	switch req.Method {
	case siplib.INVITE:
		u.onInvite(req, tx)
	case siplib.BYE:
		u.inDialog(req, tx, (*Call).onBye)
	case siplib.CANCEL:
		// A CANCEL matching a live INVITE is answered by the transaction
		// layer (200 + 487); here it matched nothing (RFC 3261 §9.2).
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	case siplib.INFO:
		u.inDialog(req, tx, (*Call).onInfo)
	case siplib.PRACK:
		u.inDialog(req, tx, (*Call).onPrack)
	case siplib.REFER:
		// Outside a dialog (no To tag, or one naming no call of ours)
		// it is 481; admission refused a stranger's with 403 already.
		u.inDialog(req, tx, (*Call).onRefer)
	case siplib.NOTIFY:
		u.inDialog(req, tx, (*Call).onNotify)
	case siplib.OPTIONS:
		res := u.newResponse(req, 200, "OK")
		res.AppendHeader(siplib.NewHeader("Accept", "application/sdp"))
		u.send(tx, res)
	case siplib.UPDATE, siplib.REGISTER, siplib.SUBSCRIBE, siplib.MESSAGE, siplib.PUBLISH:
		u.respond(tx, req, 405, "Method Not Allowed")
	default:
		u.respond(tx, req, 501, "Not Implemented")
	}
}

// validate applies the checks of RFC 3261 §8.2.1-8.2.2 that sipgo leaves
// to the UA: required headers, CSeq method, URI scheme, Require.
func validate(req *sipRequest) (int, string) {
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Via() == nil {
		return 400, "Bad Request (missing header)"
	}
	if len(req.GetHeaders("Call-ID")) > 1 || len(req.GetHeaders("From")) > 1 || len(req.GetHeaders("To")) > 1 || len(req.GetHeaders("CSeq")) > 1 {
		return 400, "Bad Request (duplicate header)"
	}
	if len(req.GetHeaders("Content-Length")) > 1 {
		return 400, "Bad Request (Content-Length)" // RFC 4475 §3.3.9
	}
	if req.CSeq().MethodName != req.Method {
		if !knownMethod(req.Method) {
			return 501, "Not Implemented"
		}
		return 400, "Bad Request (CSeq method)"
	}
	if req.SipVersion != "SIP/2.0" {
		return 505, "Version Not Supported"
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return 416, "Unsupported URI Scheme"
	}
	return 0, ""
}

func knownMethod(m siplib.RequestMethod) bool {
	switch m {
	case siplib.INVITE, siplib.ACK, siplib.CANCEL, siplib.BYE, siplib.OPTIONS, siplib.INFO,
		siplib.PRACK, siplib.UPDATE, siplib.REGISTER, siplib.SUBSCRIBE, siplib.NOTIFY,
		siplib.REFER, siplib.MESSAGE, siplib.PUBLISH:
		return true
	}
	return false
}

// unsupportedRequire returns the Require option tags we do not support.
func (u *UA) unsupportedRequire(req *sipRequest) []string {
	var bad []string
	for _, tag := range headerTokens(req, "Require") {
		if tag == "100rel" && u.cfg.Prack || tag == "replaces" {
			continue
		}
		if tag == "eventlist" && req.Method == siplib.NOTIFY {
			continue // resource lists, RFC 4662 §5 (blf.go)
		}
		bad = append(bad, tag)
	}
	return bad
}

// headerTokens splits every value of a comma-list header into lower-case
// tokens.
func headerTokens(m interface {
	GetHeaders(string) []siplib.Header
}, name string) []string {
	var out []string
	for _, h := range m.GetHeaders(name) {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func hasToken(m interface {
	GetHeaders(string) []siplib.Header
}, name, tok string) bool {
	for _, t := range headerTokens(m, name) {
		if t == tok {
			return true
		}
	}
	return false
}

// newResponse builds a response with our Allow/Supported/User-Agent.
func (u *UA) newResponse(req *sipRequest, code int, reason string) *sipResponse {
	res := siplib.NewResponseFromRequest(req, code, reason, nil)
	// sipgo copies the request's version; ours is SIP/2.0, whatever the
	// request said (a 505 must not echo "SIP/7.0").
	res.SipVersion = "SIP/2.0"
	if code == 200 || code == 405 || code == 501 || (code >= 180 && code < 200) {
		res.AppendHeader(siplib.NewHeader("Allow", allowMethods))
	}
	if u.cfg.Prack {
		res.AppendHeader(siplib.NewHeader("Supported", "100rel, replaces"))
	} else {
		res.AppendHeader(siplib.NewHeader("Supported", "replaces"))
	}
	res.AppendHeader(siplib.NewHeader("User-Agent", u.cfg.UserAgent))
	return res
}

func (u *UA) respond(tx siplib.ServerTransaction, req *sipRequest, code int, reason string) {
	u.send(tx, u.newResponse(req, code, reason))
}

func (u *UA) send(tx siplib.ServerTransaction, res *sipResponse) {
	u.fitResponse(res)
	if err := tx.Respond(res); err != nil {
		u.log.Debug("respond failed", "code", res.StatusCode, "err", err)
	}
}

// inDialog routes a request to its call, or answers 481.
func (u *UA) inDialog(req *sipRequest, tx *siplib.ServerTx, h func(*Call, *sipRequest, *siplib.ServerTx)) {
	c := u.callByID(req.CallID().Value())
	if c == nil || !c.matches(req) {
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	h(c, req, tx)
}

func (u *UA) onACK(req *sipRequest) {
	if req.CallID() == nil {
		return
	}
	if c := u.callByID(req.CallID().Value()); c != nil && c.matches(req) {
		c.onAck(req)
	}
}

// onStrayResponse gets responses no transaction matched: retransmitted
// 2xx to an INVITE whose transaction is gone must be ACKed again
// (RFC 3261 §13.2.2.4).
func (u *UA) onStrayResponse(res *sipResponse) {
	if res.CallID() == nil || res.CSeq() == nil {
		return
	}
	c := u.callByID(res.CallID().Value())
	if c == nil || res.CSeq().MethodName != siplib.INVITE || !res.IsSuccess() {
		return
	}
	c.resendAck(res)
}

// ---- helpers -----------------------------------------------------------------

func newTag() string    { return siplib.GenerateTagN(16) }
func newCallID() string { return siplib.GenerateTagN(24) }

// retryAfter parses a Retry-After header (RFC 3261 §20.33), zero if absent.
func retryAfter(res *sipResponse) time.Duration {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v := h.Value()
	if i := strings.IndexAny(v, " ;("); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}
