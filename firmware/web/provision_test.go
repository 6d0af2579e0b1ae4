package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The network page sets provision.url (docs/provisioning.md); a bad URL
// is a form error and changes nothing.
func TestNetworkProvisionURL(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	if !strings.Contains(b.get("/network").Body.String(), `name="provision_url"`) {
		t.Fatal("no provisioning field on the network page")
	}
	f := url.Values{"sip_min": {"5070"}, "sip_max": {"5079"}, "media_min": {"20000"}, "media_max": {"20099"},
		"provision_url": {"https://prov.example.net/p"}}
	if w := b.post("/network", "/network", f); w.Code != http.StatusSeeOther {
		t.Fatalf("network: %d\n%s", w.Code, w.Body)
	}
	if got := e.store.Config().Provision.URL; got != "https://prov.example.net/p" {
		t.Errorf("provision.url = %q", got)
	}
	f.Set("provision_url", "ftp://nope/")
	if w := b.post("/network", "/network", f); w.Code != 400 || !strings.Contains(w.Body.String(), "provision.url") {
		t.Errorf("bad URL: %d", w.Code)
	}
	if got := e.store.Config().Provision.URL; got != "https://prov.example.net/p" {
		t.Errorf("a refused form changed provision.url to %q", got)
	}
}
