package provision_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/provision"
)

// store is the phone's config in memory (on a phone: api.FileConfig,
// which saves and applies).
type store struct{ c *config.Config }

func (s *store) Config() *config.Config { return s.c }
func (s *store) SaveConfig(c *config.Config) (bool, error) {
	s.c = c
	return false, nil
}

func Example() {
	mac := net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0xaa}
	files := map[string]string{
		"/p/phone.yaml":                 "accounts:\n  - domain: pbx.example.net\n",
		"/p/" + provision.FileName(mac): "accounts:\n  - user: \"2001\"\n    password: secret\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	st := &store{c: config.Default()}
	st.c.Provision.URL = srv.URL + "/p"
	p, err := provision.New(provision.Config{Store: st, MAC: mac, Version: "v1.0.0"})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	// A phone calls p.Start(); Check is one check, now.
	if err := p.Check(context.Background()); err != nil {
		panic(err)
	}
	a := st.c.Accounts[0]
	fmt.Println(provision.FileName(mac), a.User+"@"+a.Domain, p.Status().State)
	// Output: 0011223344aa.yaml 2001@pbx.example.net ok
}
