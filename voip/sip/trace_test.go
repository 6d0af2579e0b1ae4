// SIPDEBUG=1 prints every SIP message sipgo reads or writes (with local
// and remote address): handy to see which socket a message used.
// SIPDEBUG=full prints the whole messages.

package sip

import (
	"fmt"
	siplib "github.com/emiago/sipgo/sip"
	"os"
)

type dbgTracer struct{}

func (dbgTracer) SIPTraceRead(tr, laddr, raddr string, msg []byte) {
	fmt.Fprintf(os.Stderr, "READ %s %s<-%s %q\n", tr, laddr, raddr, traceCut(msg))
}
func (dbgTracer) SIPTraceWrite(tr, laddr, raddr string, msg []byte) {
	fmt.Fprintf(os.Stderr, "WRITE %s %s->%s %q\n", tr, laddr, raddr, traceCut(msg))
}

func traceCut(msg []byte) string {
	if os.Getenv("SIPDEBUG") == "full" {
		return string(msg)
	}
	return string(msg[:min(len(msg), 60)])
}

func init() {
	if os.Getenv("SIPDEBUG") != "" {
		siplib.SIPDebug = true
		siplib.SIPDebugTracer(dbgTracer{})
	}
}
