package phone

// pumpWhileSending runs a talking call's capture loop only while the call
// can send: not while we hold it (voip/sip sends no audio then) nor while
// the far end holds us (we are recvonly or inactive). A loop with nothing
// to send would still wake the phone 50 times a second, and the router
// with it to read the microphone. The speaker keeps playing what the far
// end sends while it holds us (music on hold). The media session keeps
// its RTP timestamp on the clock across the pause and marks the first
// packet after it.
func (p *Phone) pumpWhileSending(c *callRec) {
	if c.localHold || c.remoteHold {
		p.stopPump(c)
		return
	}
	p.startPump(c)
}
