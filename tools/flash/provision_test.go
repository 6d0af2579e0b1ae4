package flash

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
)

// fakeConfigAPI answers GET and PUT /api/config as phoned does (the
// api package's redaction and parsing), over a config in memory.
type fakeConfigAPI struct {
	mu  sync.Mutex
	cur *config.Config
}

func (f *fakeConfigAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodGet:
		doc, err := api.ConfigDocument(api.RedactConfig(f.cur))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(doc)
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		c, err := api.ParseConfigUpdate(b, f.cur)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.cur = c
	}
}

func TestProvisionSetsURLAndKeepsSecrets(t *testing.T) {
	cur := config.Default()
	cur.API.Token = "tok-0123456789abcdef"
	a := config.DefaultAccount()
	a.User, a.AuthUser, a.Password, a.Domain, a.Registrar = "1001", "1001", "pw", "pbx.example", "pbx.example"
	cur.Accounts = []config.Account{a}
	f := &fakeConfigAPI{cur: cur}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()
	if err := Provision(ctx, srv.Client(), srv.URL, "tok", "https://prov.example/p"); err != nil {
		t.Fatal(err)
	}
	if f.cur.Provision.URL != "https://prov.example/p" || f.cur.Accounts[0].Password != "pw" || f.cur.API.Token != cur.API.Token {
		t.Fatalf("after: %+v %+v", f.cur.Provision, f.cur.Accounts)
	}
	if err := Provision(ctx, srv.Client(), srv.URL, "tok", ""); err != nil {
		t.Fatal(err)
	}
	if f.cur.Provision.URL != "" {
		t.Errorf("url not removed: %q", f.cur.Provision.URL)
	}
	if err := Provision(ctx, srv.Client(), srv.URL, "tok", "ftp://x/"); err == nil {
		t.Error("ftp URL accepted")
	}
	if err := Provision(ctx, srv.Client(), srv.URL, "wrong", "http://x/"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
}
