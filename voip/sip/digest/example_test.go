package digest_test

import (
	"fmt"

	"github.com/deskphone/phone/voip/sip/digest"
)

func Example() {
	// The UAC receives a 401 with this WWW-Authenticate value.
	c, err := digest.ParseChallenge(`Digest realm="biloxi.com", qop="auth,auth-int", ` +
		`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	if err != nil {
		panic(err)
	}
	a, err := c.Respond("REGISTER", "sip:biloxi.com", nil,
		digest.Credentials{Username: "bob", Password: "zanzibar"}, 1, "0a4f113b")
	if err != nil {
		panic(err)
	}
	fmt.Println("Authorization:", a)
	// Output:
	// Authorization: Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:biloxi.com", response="9e2d1006810044fd79f39476209ae31a", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001
}
