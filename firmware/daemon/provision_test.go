package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/provision"
	"github.com/deskphone/phone/hal/haltest"
	"github.com/deskphone/phone/hal/tone"
)

// A daemon with a config file and provision.url fetches its account from
// the server, saves it to the file and shows the outcome in its status.
func TestDaemonProvisionsFromConfigURL(t *testing.T) {
	mac := firstMAC()
	if mac == nil {
		t.Skip("no interface with a MAC address here")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/p/phone.yaml":
			w.Write([]byte("accounts:\n  - domain: 127.0.0.1\n"))
		case "/p/" + provision.FileName(mac):
			w.Write([]byte("accounts:\n  - user: \"2001\"\n    password: pw\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.NAT.UPnP = false
	cfg.Ports.SIP = config.PortRange{Min: 27100, Max: 27109}
	cfg.Ports.Media = config.PortRange{Min: 27200, Max: 27299}
	cfg.Provision.URL = srv.URL + "/p"
	path := filepath.Join(t.TempDir(), "phone.yaml")
	if err := config.Save(path, cfg); err != nil {
		t.Fatal(err)
	}
	b, _, _, _, _ := haltest.NewBoard(tone.Sine(440, 8000, -10))
	d, err := New(Options{Config: cfg, Board: b, ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeParts()
	if d.prov == nil {
		t.Fatal("no provisioner")
	}
	if err := d.prov.p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	saved, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.Accounts) != 1 || saved.Accounts[0].User != "2001" || saved.Accounts[0].Domain != "127.0.0.1" {
		t.Fatalf("saved accounts %+v", saved.Accounts)
	}
	st := d.Status().Provision
	if st == nil || st.State != provision.StateOK || st.Source != "config" || !strings.HasPrefix(st.URL, srv.URL) {
		t.Errorf("status %+v", st)
	}
}
