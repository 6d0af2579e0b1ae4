package daemon_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/daemon"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/tools/pbx"
)

// Example wires a whole phone (config, a board, the port manager, the
// SIP user agent and the state machine) the way phoned does, registers
// it with the local test PBX on loopback, and calls the PBX's echo
// extension as POST /api/call does. The board is haltest's fake: its
// microphone plays a 440 Hz tone, and the echo brings it back to the
// speaker.
func Example() {
	p, err := pbx.New(pbx.Config{
		Realm:  "home",
		Users:  map[string]string{"1001": "secret"},
		Listen: netip.MustParseAddrPort("127.0.0.1:0"),
	})
	if err != nil || p.Start() != nil {
		fmt.Println("pbx:", err)
		return
	}
	defer p.Close()

	cfg := config.Default()
	a := config.DefaultAccount()
	a.User, a.Password, a.Domain, a.Registrar = "1001", "secret", "127.0.0.1", p.Addr().String()
	cfg.Accounts = []config.Account{a}
	cfg.Ports.SIP = config.PortRange{Min: 27060, Max: 27061}
	cfg.Ports.Media = config.PortRange{Min: 27100, Max: 27199}
	cfg.API.Listen = ""  // no HTTP API in this example
	cfg.NAT.UPnP = false // nothing beyond loopback: no gateway probes

	board, _, _, _, speaker := haltest.NewBoard(tone.Sine(440, 8000, -10))
	d, err := daemon.New(daemon.Options{Config: cfg, Board: board})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// until polls the status document until cond holds (real time).
	until := func(what string, cond func(daemon.Status) bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond(d.Status()) {
			if time.Now().After(deadline) {
				fmt.Println("timed out waiting for", what)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		st := d.Status()
		fmt.Println(what+":", st.Registration.State, st.Phone.State)
	}
	until("registered", func(s daemon.Status) bool { return s.Registration.State == "registered" })
	if err := d.Phone().Call(ctx, "echo"); err != nil {
		fmt.Println(err)
		return
	}
	until("talking", func(s daemon.Status) bool { return s.Phone.State == "talking" })
	until("echo heard", func(daemon.Status) bool {
		s := speaker.Samples(1600) // the last 200 ms played
		return len(s) == 1600 && tone.Contains(s, 440, 8000)
	})
	if err := d.Phone().Hangup(ctx); err != nil {
		fmt.Println(err)
	}
	until("hung up", func(s daemon.Status) bool { return s.Phone.State == "idle" })
	// Output:
	// registered: registered idle
	// talking: registered talking
	// echo heard: registered talking
	// hung up: registered idle
}
