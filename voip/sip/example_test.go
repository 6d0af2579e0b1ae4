package sip_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/voip/sip"
)

// Example places a direct (IP to IP) call between two user agents on
// loopback, answers it and hangs up. Each UA takes its sockets from a
// port manager; here a fake one that binds loopback ports. Progress
// arrives on Events: the caller sees its call ring and connect, the
// callee an IncomingCallEvent to answer.
func Example() {
	ctx := context.Background()
	start := func(user string) (*sip.UA, *mappertest.FakeMapper) {
		fm := &mappertest.FakeMapper{}
		ua, err := sip.New(sip.Config{Mapper: fm, Account: sip.Account{User: user}, CloseTimeout: time.Second})
		if err != nil {
			panic(err)
		}
		if err := ua.Start(ctx); err != nil {
			panic(err)
		}
		return ua, fm
	}
	alice, am := start("alice")
	defer am.Close()
	defer alice.Close()
	bob, bm := start("bob")
	defer bm.Close()
	defer bob.Close()

	// Bob's SIP socket, as his port manager mapped it.
	bobAddr := bm.Live(portmgr.KindSIP)[0].Local()
	call, err := alice.Dial(ctx, fmt.Sprintf("sip:bob@%s", bobAddr))
	if err != nil {
		panic(err)
	}

	// Bob's phone rings; he answers.
	for ev := range bob.Events() {
		if in, ok := ev.(*sip.IncomingCallEvent); ok {
			user, _, _ := strings.Cut(in.Call.Remote(), "@")
			fmt.Println("bob: incoming call from", user)
			if err := in.Call.Answer(); err != nil {
				panic(err)
			}
			break
		}
	}
	// Alice's call connects; she hangs up.
	for ev := range alice.Events() {
		if ce, ok := ev.(*sip.CallEvent); ok && ce.Call == call && ce.State == sip.StateTalking {
			fmt.Println("alice:", ce.State, ce.Code)
			break
		}
	}
	if err := call.Hangup(); err != nil {
		panic(err)
	}
	for ev := range alice.Events() {
		if ce, ok := ev.(*sip.CallEvent); ok && ce.Call == call && ce.State == sip.StateEnded {
			fmt.Println("alice:", ce.State)
			break
		}
	}
	// Output:
	// bob: incoming call from sip:alice
	// alice: talking 200
	// alice: ended
}

// ExampleCall_Transfer is a blind transfer between three user agents on
// loopback: alice calls bob, bob transfers her to carol (REFER), alice's
// UA calls carol itself and reports it as a ReferredCallEvent; bob
// follows the transfer by TransferEvents, and his call ends once carol
// answered.
func ExampleCall_Transfer() {
	ctx := context.Background()
	start := func(user string) (*sip.UA, *mappertest.FakeMapper) {
		fm := &mappertest.FakeMapper{}
		ua, err := sip.New(sip.Config{Mapper: fm, Account: sip.Account{User: user}, CloseTimeout: time.Second})
		if err != nil {
			panic(err)
		}
		if err := ua.Start(ctx); err != nil {
			panic(err)
		}
		return ua, fm
	}
	alice, am := start("alice")
	defer am.Close()
	defer alice.Close()
	bob, bm := start("bob")
	defer bm.Close()
	defer bob.Close()
	carol, cm := start("carol")
	defer cm.Close()
	defer carol.Close()
	addr := func(fm *mappertest.FakeMapper) string { return fm.Live(portmgr.KindSIP)[0].Local().String() }

	// incoming waits for a UA's next incoming call and answers it.
	incoming := func(ua *sip.UA) *sip.Call {
		for ev := range ua.Events() {
			if in, ok := ev.(*sip.IncomingCallEvent); ok {
				if err := in.Call.Answer(); err != nil {
					panic(err)
				}
				return in.Call
			}
		}
		return nil
	}
	call, err := alice.Dial(ctx, "sip:bob@"+addr(bm))
	if err != nil {
		panic(err)
	}
	atBob := incoming(bob)
	for ev := range alice.Events() {
		if ce, ok := ev.(*sip.CallEvent); ok && ce.Call == call && ce.State == sip.StateTalking {
			break
		}
	}

	if err := atBob.Transfer("sip:carol@" + addr(cm)); err != nil {
		panic(err)
	}
	var toCarol *sip.Call
	for ev := range alice.Events() {
		if rc, ok := ev.(*sip.ReferredCallEvent); ok {
			fmt.Println("alice: bob transfers me to", strings.SplitN(rc.Target, "@", 2)[0])
			toCarol = rc.Call
			break
		}
	}
	atCarol := incoming(carol)
	fmt.Println("carol: answered", atCarol.Identity().Number)
	for ev := range bob.Events() {
		if te, ok := ev.(*sip.TransferEvent); ok && te.Final {
			fmt.Println("bob: transfer done:", te.Code, te.Reason)
			break
		}
	}
	<-atBob.Done()
	fmt.Println("bob: call ended:", atBob.EndReason())
	for ev := range alice.Events() {
		if ce, ok := ev.(*sip.CallEvent); ok && ce.Call == toCarol && ce.State == sip.StateTalking {
			fmt.Println("alice: talking to carol")
			break
		}
	}
	// Output:
	// alice: bob transfers me to sip:carol
	// carol: answered alice
	// bob: transfer done: 200 OK
	// bob: call ended: transferred
	// alice: talking to carol
}
