package pbx_test

import (
	"fmt"
	"net/netip"

	"github.com/deskphone/phone/tools/pbx"
)

// Example starts a PBX on the host's loopback (Config.Net nil means
// stdnet) with two users; phones register to s.Addr() and can call each
// other or sip:echo@pbx.local.
func Example() {
	s, err := pbx.New(pbx.Config{
		Realm:  "pbx.local",
		Users:  map[string]string{"alice": "secret", "bob": "secret"},
		Listen: netip.MustParseAddrPort("127.0.0.1:0"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("realm", s.Realm(), "loopback", s.Addr().Addr().IsLoopback(), "port chosen", s.Addr().Port() != 0)
	// Output: realm pbx.local loopback true port chosen true
}
