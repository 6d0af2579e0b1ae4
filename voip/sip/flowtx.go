package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	siplib "github.com/emiago/sipgo/sip"
)

// flowTx ends a client transaction whose TCP/TLS flow connection died,
// so that a REGISTER or INVITE on a closed flow fails at once rather than
// after Timer B/F. sipgo's own WithTransactionLayerTerminateOnConnClose
// does this too, but it can fire on a transaction that is in its store
// and not yet initialised (nil FSM): a panic inside sipgo when a server
// closes connections as fast as we open them. Here the watch starts only
// after txl.Request returned, i.e. after Init.
type flowTx struct {
	siplib.ClientTransaction
	mu  sync.Mutex
	why error
}

// Err is the transport error when the flow ended the transaction, else
// sipgo's own.
func (t *flowTx) Err() error {
	t.mu.Lock()
	why := t.why
	t.mu.Unlock()
	if why != nil {
		return why
	}
	return t.ClientTransaction.Err()
}

// flowConnOf is the flow connection a client transaction writes on, or
// nil when it is not one of ours (UDP, or a connection sipgo dialled to
// another destination).
func flowConnOf(tx siplib.ClientTransaction) *flowConn {
	ct, ok := tx.(*siplib.ClientTx)
	if !ok {
		return nil
	}
	tc, ok := ct.Connection().(*siplib.TCPConnection)
	if !ok || tc == nil {
		return nil
	}
	fc, _ := tc.Conn.(*flowConn)
	return fc
}

// flowDialer is sipgo's dialer for TCP and TLS: it refuses to dial the
// flow's server, which only the flow dials (flow.ensure). When the flow
// died between our ensure and sipgo's pool lookup, sipgo used to dial a
// connection of its own there: nothing watched its end, and it took the
// server's key in sipgo's pool, so later requests missed the flow's new
// connection and dialled again. Refused, the request fails like one on a
// dead flow and the watchdog's re-REGISTER goes out on the new flow.
// Other destinations (a far end's Contact without a proxy) dial as
// before.
func (u *UA) flowDialer(laddr net.Addr) net.Dialer {
	return net.Dialer{
		Timeout:   flowDialTimeout,
		LocalAddr: laddr,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			if u.flow == nil {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			srv := u.currentServer()
			if err == nil && srv.IsValid() && ap.Addr().Unmap() == srv.Addr().Unmap() && ap.Port() == srv.Port() {
				return errFlowClosed
			}
			return nil
		},
	}
}

// errFlowClosed fails a request whose flow connection is gone.
var errFlowClosed = fmt.Errorf("connection closed: %w", siplib.ErrTransactionTransport)

// watchFlow wraps tx so that the end of its flow connection terminates
// it with a transport error. The watcher is one of the UA's goroutines
// and ends with the transaction.
func (u *UA) watchFlow(tx siplib.ClientTransaction) siplib.ClientTransaction {
	fc := flowConnOf(tx)
	if fc == nil {
		return tx
	}
	w := &flowTx{ClientTransaction: tx}
	u.goFn(func() {
		select {
		case <-tx.Done():
		case <-fc.dead:
			w.mu.Lock()
			w.why = errFlowClosed
			w.mu.Unlock()
			tx.Terminate()
		}
	})
	return w
}
