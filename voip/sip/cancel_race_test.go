package sip

import (
	"testing"
	"testing/synctest"
)

// TestCancelAfterAnswerSendsBye: a hangup that looked at the call while
// it was still ringing and cancels after the 2xx was taken (the race a
// lab cell hit: CANCEL sent, no BYE, the call left up) ends the call
// with BYE instead, on both sides.
func TestCancelAfterAnswerSendsBye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		ca.cancel(0, "local hangup") // what Hangup does with a stale "ringing"
		a.waitCall(t, ca, StateEnded)
		b.waitCall(t, cb, StateEnded)
	})
}
