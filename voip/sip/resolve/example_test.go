package resolve_test

import (
	"context"
	"fmt"

	"github.com/deskphone/phone/voip/sip/resolve"
)

// An IP literal needs no DNS: it is its own target, over UDP at 5060
// unless the URI says otherwise (RFC 3263 §4.1, §4.2).
func ExampleResolver_Resolve() {
	r, err := resolve.New(resolve.Config{Servers: []string{"192.0.2.53"}})
	if err != nil {
		panic(err)
	}
	for _, q := range []resolve.Query{
		{Host: "192.0.2.10"},
		{Host: "192.0.2.10", Secure: true},
		{Host: "192.0.2.10", Port: 5080, Transport: resolve.TCP},
	} {
		res, err := r.Resolve(context.Background(), q)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Targets[0])
	}
	// Output:
	// udp:192.0.2.10:5060
	// tls:192.0.2.10:5061
	// tcp:192.0.2.10:5080
}

// A Set moves to the next target when one fails.
func ExampleSet() {
	r, _ := resolve.New(resolve.Config{Servers: []string{"192.0.2.53"}})
	s := r.NewSet(resolve.Query{Host: "192.0.2.10"}, resolve.SetConfig{})
	t, _, _ := s.Pick(context.Background())
	s.Failed(t, 0) // timed out: avoided for DefaultHold
	t, allFailed, _ := s.Pick(context.Background())
	fmt.Println(t, allFailed)
	// Output: udp:192.0.2.10:5060 true
}
