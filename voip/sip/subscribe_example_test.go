package sip_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/msgsummary"
	"github.com/deskphone/phone/voip/sip"
	"github.com/pion/transport/v4/stdnet"
)

// ExampleUA_WatchMWI registers alice to tools/pbx on loopback and
// watches her mailbox: the PBX's NOTIFY arrives as an MWIEvent, the
// message lamp's input.
func ExampleUA_WatchMWI() {
	ctx := context.Background()
	n, err := stdnet.NewNet()
	if err != nil {
		panic(err)
	}
	srv, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close()
	fm := &mappertest.FakeMapper{}
	defer fm.Close()
	ua, err := sip.New(sip.Config{Mapper: fm, CloseTimeout: time.Second, Account: sip.Account{
		User: "alice", Password: "secret", Domain: "pbx.test", Registrar: srv.Addr().String()}})
	if err != nil {
		panic(err)
	}
	if err := ua.Start(ctx); err != nil {
		panic(err)
	}
	defer ua.Close()

	sub, err := ua.WatchMWI("") // our own mailbox
	if err != nil {
		panic(err)
	}
	for ev := range ua.Events() {
		if se, ok := ev.(*sip.SubscriptionEvent); ok && se.Sub == sub && se.Status.State == sip.SubActive {
			break
		}
	}
	// The voicemail system has news: the PBX notifies.
	sum := &msgsummary.Summary{Waiting: true, Classes: map[msgsummary.Class]msgsummary.Counts{
		msgsummary.Voice: {New: 2, Old: 5}}}
	for {
		if _, err := srv.Notify(ctx, "message-summary", "alice", msgsummary.MediaType, sum.Marshal()); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // the PBX has not seen the SUBSCRIBE's end yet
	}
	for ev := range ua.Events() {
		if m, ok := ev.(*sip.MWIEvent); ok {
			fmt.Println("waiting:", m.Waiting, "new:", m.New, "old:", m.Old)
			break
		}
	}
	// Output:
	// waiting: true new: 2 old: 5
}
