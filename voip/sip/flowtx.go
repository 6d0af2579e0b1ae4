package sip

import (
	"fmt"
	"net/netip"
	"sync"

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
// nil when it is not one of ours (UDP, or a connection sipgo dialled),
// with sipgo's connection (nil for UDP).
func flowConnOf(tx siplib.ClientTransaction) (*flowConn, *siplib.TCPConnection) {
	ct, ok := tx.(*siplib.ClientTx)
	if !ok {
		return nil, nil
	}
	tc, ok := ct.Connection().(*siplib.TCPConnection)
	if !ok || tc == nil {
		return nil, nil
	}
	fc, _ := tc.Conn.(*flowConn)
	return fc, tc
}

// foreignToServer reports whether tc is a connection sipgo dialled on its
// own to the flow's server: that happens when the flow died between our
// ensure and sipgo's pool lookup. Nothing would notice its end (only the
// flow's connections are watched), so it is closed and the request fails
// as on a dead flow; the flow's watchdog dials again.
func (u *UA) foreignToServer(tc *siplib.TCPConnection) bool {
	if u.flow == nil || tc == nil {
		return false
	}
	if _, ours := tc.Conn.(*flowConn); ours {
		return false
	}
	ra, err := netip.ParseAddrPort(tc.RemoteAddr().String())
	if err != nil {
		return false
	}
	srv := u.currentServer()
	if !srv.IsValid() || ra.Addr().Unmap() != srv.Addr().Unmap() || ra.Port() != srv.Port() {
		return false
	}
	tc.Conn.Close() // its reader ends and leaves the pool
	return true
}

// errFlowClosed fails a request whose flow connection is gone.
var errFlowClosed = fmt.Errorf("connection closed: %w", siplib.ErrTransactionTransport)

// watchFlow wraps tx so that the end of its flow connection terminates
// it with a transport error. The watcher is one of the UA's goroutines
// and ends with the transaction.
func (u *UA) watchFlow(tx siplib.ClientTransaction) siplib.ClientTransaction {
	fc, tc := flowConnOf(tx)
	if fc == nil {
		if u.foreignToServer(tc) {
			w := &flowTx{ClientTransaction: tx, why: errFlowClosed}
			tx.Terminate()
			return w
		}
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
