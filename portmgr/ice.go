package portmgr

import "net/netip"

// SetSTUNHook installs fn to see the STUN messages that arrive for the
// mapping's sockets (rtcp tells which: ICE component 2 when RTCP is not
// multiplexed), directly or through a TURN relay, before the
// manager answers them: an ICE agent (RFC 8445) takes its connectivity
// checks and their responses this way, on the socket media already
// uses, so ports, demultiplexing and keepalives stay the manager's. fn
// returns true when it took the message; false leaves it to the manager
// (a plain Binding request is answered as before). b is the reader's
// buffer, valid only during the call; fn must not block. A nil fn
// removes the hook. Mappings made by NewMapping have no demultiplexer:
// their user reads STUN from Conn itself.
func (mp *Mapping) SetSTUNHook(fn func(b []byte, from netip.AddrPort, rtcp bool) bool) {
	if fn == nil {
		mp.stunHook.Store(nil)
		return
	}
	mp.stunHook.Store(&fn)
}

// hookSTUN offers a STUN message to the mapping's hook; true when taken.
func (mp *Mapping) hookSTUN(b []byte, from netip.AddrPort, rtcp bool) bool {
	h := mp.stunHook.Load()
	return h != nil && (*h)(b, from, rtcp)
}
