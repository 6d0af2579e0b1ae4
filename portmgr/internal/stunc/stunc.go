// Package stunc is the port manager's STUN client transaction layer
// (RFC 8489 §6.2.1). It owns no socket: the caller gives it a write
// function and feeds it every STUN message its reader takes off the
// socket, so the binding request leaves from the very socket whose
// mapping is wanted (symmetric UDP).
package stunc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v3"
)

// RFC 8489 §6.2.1 defaults.
const (
	DefaultRTO = 500 * time.Millisecond
	DefaultRc  = 7
	DefaultRm  = 16
)

var (
	// ErrTimeout means no matching response arrived within Rc requests
	// and the final Rm×RTO wait.
	ErrTimeout = errors.New("stun: transaction timed out")
	// ErrErrorResponse means the server answered with an error response.
	ErrErrorResponse = errors.New("stun: error response")
	// ErrNoAddress means a success response carried neither
	// XOR-MAPPED-ADDRESS nor MAPPED-ADDRESS.
	ErrNoAddress = errors.New("stun: response without mapped address")
)

// CHANGE-REQUEST flags (RFC 5780 §7.2).
const (
	ChangeIP   uint32 = 0x04
	ChangePort uint32 = 0x02
)

// Response is a decoded Binding success response.
type Response struct {
	Msg *stun.Message
	// From is where the response came from.
	From netip.AddrPort
	// Mapped is XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS from an RFC 3489 server).
	Mapped netip.AddrPort
	// PlainMapped is MAPPED-ADDRESS when present; it differs from Mapped
	// when a middlebox rewrote the payload (RFC 5780 §3.6, generic ALG).
	PlainMapped netip.AddrPort
	// Other is OTHER-ADDRESS (RFC 5780 §7.4), zero when absent.
	Other netip.AddrPort
	// RTT is the time from the first request of the transaction to the
	// response (an upper bound on the round trip when a retransmission
	// was answered).
	RTT time.Duration
}

// Request describes one Binding transaction.
type Request struct {
	To netip.AddrPort
	// Change is the CHANGE-REQUEST value; 0 omits the attribute.
	Change uint32
	// Accept says whether a response from this address belongs to the
	// transaction; nil accepts only To.
	Accept func(from netip.AddrPort) bool
	// Tries overrides Rc (at most this many requests); 0 uses Rc.
	Tries int
	// Rm overrides the client's Rm for this transaction; 0 keeps it.
	Rm int
	// RTO overrides the client's initial retransmission timeout for this
	// transaction; 0 keeps it.
	RTO time.Duration
	// Within, when positive, bounds the whole transaction: requests keep
	// the RFC 8489 schedule but the transaction gives up (ErrTimeout) once
	// Within has passed since the first request. It is for tests that
	// expect silence (RFC 5780 filtering), where waiting out the full
	// schedule only delays the answer.
	Within time.Duration
}

// Client runs Binding transactions.
type Client struct {
	// Write sends b to the address from the socket under test.
	Write func(b []byte, to netip.AddrPort) error
	// RTO is the initial retransmission timeout (default 500 ms).
	RTO time.Duration
	// Rc and Rm are RFC 8489's retransmission count and last-wait factor.
	Rc, Rm int

	mu   sync.Mutex // guards following
	txns map[[stun.TransactionIDSize]byte]*txn
}

type txn struct {
	accept func(netip.AddrPort) bool
	res    chan *stun.Message
	from   chan netip.AddrPort
}

// Binding sends a Binding request and waits for the matching response.
func (c *Client) Binding(ctx context.Context, r Request) (*Response, error) {
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
	if r.Change != 0 {
		setters = append(setters, changeRequest(r.Change))
	}
	setters = append(setters, stun.Fingerprint)
	req, err := stun.Build(setters...)
	if err != nil {
		return nil, err
	}
	accept := r.Accept
	if accept == nil {
		to := r.To
		accept = func(from netip.AddrPort) bool { return from == to }
	}
	t := &txn{accept: accept, res: make(chan *stun.Message, 1), from: make(chan netip.AddrPort, 1)}
	c.mu.Lock()
	if c.txns == nil {
		c.txns = map[[stun.TransactionIDSize]byte]*txn{}
	}
	c.txns[req.TransactionID] = t
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.txns, req.TransactionID)
		c.mu.Unlock()
	}()

	rto := c.RTO
	if r.RTO > 0 {
		rto = r.RTO
	}
	if rto <= 0 {
		rto = DefaultRTO
	}
	rc, rm := c.Rc, c.Rm
	if rc <= 0 {
		rc = DefaultRc
	}
	if r.Tries > 0 && r.Tries < rc {
		rc = r.Tries
	}
	if r.Rm > 0 {
		rm = r.Rm
	}
	if rm <= 0 {
		rm = DefaultRm
	}
	// RFC 8489 §6.2.1: requests at 0, RTO, 3·RTO, 7·RTO, ... (RTO doubles),
	// then after the Rc-th request wait Rm·RTO (initial RTO) for a response.
	// With Within set, every wait is cut to what is left of it.
	wait := rto
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	start := time.Now()
	for i := 0; i < rc; i++ {
		if err := c.Write(req.Raw, r.To); err != nil {
			return nil, fmt.Errorf("stun %s: %w", r.To, err)
		}
		d := wait
		if i == rc-1 {
			d = time.Duration(rm) * rto
		}
		last := false
		if r.Within > 0 {
			if left := r.Within - time.Since(start); left <= d {
				d, last = max(left, 0), true
			}
		}
		timer.Reset(d)
		select {
		case m := <-t.res:
			resp, err := decode(m, <-t.from)
			if resp != nil {
				resp.RTT = time.Since(start)
			}
			return resp, err
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if last {
			break
		}
		wait *= 2
	}
	return nil, fmt.Errorf("stun %s: %w", r.To, ErrTimeout)
}

// Handle takes a STUN message read off the socket. It returns true when
// the message answered one of this client's transactions. Responses with
// an unknown transaction ID, or from a source the transaction does not
// accept, are ignored (returns false).
func (c *Client) Handle(b []byte, from netip.AddrPort) bool {
	if !stun.IsMessage(b) {
		return false
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil {
		return false
	}
	if m.Type.Class != stun.ClassSuccessResponse && m.Type.Class != stun.ClassErrorResponse {
		return false
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c.mu.Lock()
	t, ok := c.txns[m.TransactionID]
	if ok && !t.accept(from) {
		ok = false
	}
	if ok {
		delete(c.txns, m.TransactionID)
	}
	c.mu.Unlock()
	if !ok {
		return false
	}
	t.from <- from
	t.res <- m
	return true
}

func decode(m *stun.Message, from netip.AddrPort) (*Response, error) {
	if m.Type.Class == stun.ClassErrorResponse {
		var ec stun.ErrorCodeAttribute
		if err := ec.GetFrom(m); err == nil {
			return nil, fmt.Errorf("%w from %s: %d %s", ErrErrorResponse, from, ec.Code, ec.Reason)
		}
		return nil, fmt.Errorf("%w from %s", ErrErrorResponse, from)
	}
	r := &Response{Msg: m, From: from}
	var xa stun.XORMappedAddress
	if err := xa.GetFrom(m); err == nil {
		r.Mapped = toAddrPort(xa.IP, xa.Port)
	}
	var ma stun.MappedAddress
	if err := ma.GetFrom(m); err == nil {
		r.PlainMapped = toAddrPort(ma.IP, ma.Port)
		if !r.Mapped.IsValid() {
			r.Mapped = r.PlainMapped
		}
	}
	var oa stun.OtherAddress
	if err := oa.GetFrom(m); err == nil {
		r.Other = toAddrPort(oa.IP, oa.Port)
	}
	if !r.Mapped.IsValid() {
		return nil, fmt.Errorf("%w from %s", ErrNoAddress, from)
	}
	return r, nil
}

func toAddrPort(ip net.IP, port int) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || port < 0 || port > 0xffff {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// ToAddrPort converts a net.Addr to a netip.AddrPort (zero when it
// cannot).
func ToAddrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.UDPAddr:
		return toAddrPort(v.IP, v.Port)
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// changeRequest is the CHANGE-REQUEST attribute (RFC 5780 §7.2):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 A B 0|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type changeRequest uint32

func (c changeRequest) AddTo(m *stun.Message) error {
	v := uint32(c)
	m.Add(stun.AttrChangeRequest, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return nil
}

// ChangeRequestOf returns the CHANGE-REQUEST flags of a request (0 when
// absent or malformed).
func ChangeRequestOf(m *stun.Message) uint32 {
	v, err := m.Get(stun.AttrChangeRequest)
	if err != nil || len(v) != 4 {
		return 0
	}
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

// ChangeRequest returns a setter adding CHANGE-REQUEST with flags.
func ChangeRequest(flags uint32) stun.Setter { return changeRequest(flags) }

// BindingResponse builds a Binding success response to req as seen from
// from, with XOR-MAPPED-ADDRESS, MAPPED-ADDRESS (RFC 5780 §6) and the
// extra setters, plus FINGERPRINT.
func BindingResponse(req *stun.Message, from netip.AddrPort, extra ...stun.Setter) ([]byte, error) {
	ip := net.IP(from.Addr().AsSlice())
	s := []stun.Setter{
		stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: ip, Port: int(from.Port())},
		&stun.MappedAddress{IP: ip, Port: int(from.Port())},
	}
	s = append(s, extra...)
	s = append(s, stun.Fingerprint)
	m, err := stun.Build(s...)
	if err != nil {
		return nil, err
	}
	return m.Raw, nil
}

// IsSTUN reports whether b looks like a STUN message.
func IsSTUN(b []byte) bool { return stun.IsMessage(b) }

// AnswerBinding returns the success response to b when b is a Binding
// request, as seen from from.
func AnswerBinding(b []byte, from netip.AddrPort) ([]byte, bool) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingRequest {
		return nil, false
	}
	resp, err := BindingResponse(m, from)
	return resp, err == nil
}

// responsePort is the RESPONSE-PORT attribute (RFC 5780 §7.5): the port
// the server sends its answer to, on the request's source IP; 16 bits of
// port and 16 of padding.
type responsePort uint16

func (p responsePort) AddTo(m *stun.Message) error {
	m.Add(stun.AttrResponsePort, []byte{byte(p >> 8), byte(p), 0, 0})
	return nil
}

// ResponsePort returns a setter adding RESPONSE-PORT with port.
func ResponsePort(port uint16) stun.Setter { return responsePort(port) }

// ResponsePortOf returns the RESPONSE-PORT of m, if it has a valid one.
func ResponsePortOf(m *stun.Message) (uint16, bool) {
	v, err := m.Get(stun.AttrResponsePort)
	if err != nil || len(v) != 4 {
		return 0, false
	}
	return uint16(v[0])<<8 | uint16(v[1]), true
}
