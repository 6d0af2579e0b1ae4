package provision

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

var testMAC = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0xaa}

// memStore is a Store in memory, counting saves.
type memStore struct {
	mu      sync.Mutex
	cur     *config.Config
	saves   int
	restart bool
}

func newMemStore() *memStore {
	c := config.Default()
	c.API.Token = "device-token-0123456789abcdef"
	return &memStore{cur: c}
}

func (s *memStore) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *memStore) SaveConfig(c *config.Config) (bool, error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.saves = c, s.saves+1
	return s.restart, nil
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// files is a provisioning server: static files served with ETag and
// Last-Modified (http.ServeContent answers the conditional requests),
// counting requests and bodies sent.
type files struct {
	mu       sync.Mutex
	content  map[string]string
	etag     map[string]int
	requests int
	bodies   int // 200 answers
	ua       string
	auth     func(w http.ResponseWriter, r *http.Request) bool
}

func newFiles() *files { return &files{content: map[string]string{}, etag: map[string]int{}} }

func (f *files) set(name, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if body == "" {
		delete(f.content, name)
	} else {
		f.content[name] = body
	}
	f.etag[name]++
}

func (f *files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.ua = r.Header.Get("User-Agent")
	auth := f.auth
	f.mu.Unlock()
	if auth != nil && !auth(w, r) {
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/p/")
	f.mu.Lock()
	body, ok := f.content[name]
	tag := fmt.Sprintf(`"%s-%d"`, name, f.etag[name])
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", tag)
	cw := &countWriter{ResponseWriter: w}
	http.ServeContent(cw, r, name, time.Unix(1700000000, 0), strings.NewReader(body))
	if cw.code == http.StatusOK {
		f.mu.Lock()
		f.bodies++
		f.mu.Unlock()
	}
}

func (f *files) counts() (requests, bodies int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, f.bodies
}

type countWriter struct {
	http.ResponseWriter
	code int
}

func (w *countWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

const common = `accounts:
  - domain: pbx.example.net
    registrar: pbx.example.net:5060
codecs: [PCMA, PCMU]
`

const perPhone = `accounts:
  - user: "1001"
    password: secret
`

func newProv(t *testing.T, st Store, server string, opts ...func(*Config)) *Provisioner {
	t.Helper()
	cfg := Config{Store: st, MAC: testMAC, DHCP: func() string { return server }, Version: "v1.0.0", Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestMergeApplyAndConditional(t *testing.T) {
	fs := newFiles()
	fs.set("phone.yaml", common)
	fs.set("0011223344aa.yaml", perPhone)
	srv := httptest.NewServer(fs)
	defer srv.Close()
	st := newMemStore()
	p := newProv(t, st, srv.URL+"/p")
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := st.Config()
	if len(c.Accounts) != 1 || c.Accounts[0].User != "1001" || c.Accounts[0].Password != "secret" || c.Accounts[0].Domain != "pbx.example.net" || c.Codecs[0] != "PCMA" {
		t.Fatalf("merged config: %+v %v", c.Accounts, c.Codecs)
	}
	if c.API.Token != "device-token-0123456789abcdef" {
		t.Error("the phone's own api.token was lost")
	}
	fs.mu.Lock()
	if fs.ua != "deskphone/v1.0.0" {
		t.Errorf("User-Agent %q", fs.ua)
	}
	fs.mu.Unlock()
	s := p.Status()
	if s.State != StateOK || s.Source != "dhcp" || s.LastChange.IsZero() || st.count() != 1 {
		t.Fatalf("status %+v, saves %d", s, st.count())
	}
	// Nothing changed: two conditional requests, two 304s, no save.
	_, bodies := fs.counts()
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, b := fs.counts(); b != bodies || st.count() != 1 {
		t.Errorf("unchanged check sent %d bodies, saved %d times", b-bodies, st.count())
	}
	// The phone's file changes: applied.
	fs.set("0011223344aa.yaml", strings.Replace(perPhone, "secret", "secret2", 1))
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.Config().Accounts[0].Password != "secret2" || st.count() != 2 {
		t.Errorf("password %q saves %d", st.Config().Accounts[0].Password, st.count())
	}
	// Only the common file: fine. Neither: an error, nothing changed.
	fs.set("0011223344aa.yaml", "")
	fs.set("phone.yaml", "")
	if err := p.Check(context.Background()); !errors.Is(err, ErrNoFiles) {
		t.Errorf("no files: %v", err)
	}
	if st.count() != 2 {
		t.Error("saved without files")
	}
}

func TestBadFileChangesNothing(t *testing.T) {
	fs := newFiles()
	fs.set("phone.yaml", common)
	fs.set("0011223344aa.yaml", perPhone+"    transport: pigeon\n")
	srv := httptest.NewServer(fs)
	defer srv.Close()
	st := newMemStore()
	var logs bytes.Buffer
	p := newProv(t, st, srv.URL+"/p/", func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	before := st.Config()
	err := p.Check(context.Background())
	want := srv.URL + "/p/0011223344aa.yaml:4: accounts[0].transport:"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to name %s", err, want)
	}
	if st.Config() != before || st.count() != 0 {
		t.Error("a bad file changed the config")
	}
	s := p.Status()
	if s.State != StateError || !strings.Contains(s.Error, want) {
		t.Errorf("status %+v", s)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "accounts[0].transport") {
		t.Errorf("log: %s", logs.String())
	}
	// The same bad file again is fetched in full (a bad answer is not
	// remembered), and still refused.
	if err := p.Check(context.Background()); err == nil {
		t.Error("bad file accepted the second time")
	}
	// Fixed on the server: applied at the next check.
	fs.set("0011223344aa.yaml", perPhone)
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.count() != 1 || p.Status().State != StateOK || p.Status().Error != "" {
		t.Errorf("fixed file: saves %d status %+v", st.count(), p.Status())
	}
	// Garbage, a syntax error, an oversized file: refused.
	for _, bad := range []string{"accounts: [", "\x00\x01", strings.Repeat("#", config.MaxFileSize+1)} {
		fs.set("phone.yaml", bad)
		if err := p.Check(context.Background()); err == nil {
			t.Errorf("%.20q accepted", bad)
		}
	}
	if st.count() != 1 {
		t.Error("a bad file was saved")
	}
}

func TestServerPrecedence(t *testing.T) {
	st := newMemStore()
	p := newProv(t, st, "http://dhcp.example/p")
	if u, s := p.Server(); u != "http://dhcp.example/p" || s != "dhcp" {
		t.Errorf("dhcp: %s %s", u, s)
	}
	c := st.Config().Clone()
	c.Provision.URL = "https://conf.example/p"
	st.cur = c
	if u, s := p.Server(); u != "https://conf.example/p" || s != "config" {
		t.Errorf("config wins: %s %s", u, s)
	}
	c = c.Clone()
	c.Provision = config.Provision{IgnoreDHCP: true}
	st.cur = c
	if u, _ := p.Server(); u != "" {
		t.Errorf("ignore_dhcp: %s", u)
	}
	if err := p.Check(context.Background()); !errors.Is(err, ErrNoServer) || p.Status().State != StateOff {
		t.Errorf("no server: %v %+v", err, p.Status())
	}
	p2 := newProv(t, newMemStore(), "ftp://nope/")
	if u, _ := p2.Server(); u != "" {
		t.Errorf("a DHCP URL that is not http(s) was taken: %s", u)
	}
}

// testCert makes a CA-less self-signed certificate for name, written as
// PEM files in dir.
func testCert(t *testing.T, dir, name string) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cf, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c, cf, kf
}

func TestTLSServerAndClientCertificates(t *testing.T) {
	fs := newFiles()
	fs.set("phone.yaml", common)
	fs.set("0011223344aa.yaml", perPhone)
	srv := httptest.NewUnstartedServer(fs)
	dir := t.TempDir()
	_, clientCert, clientKey := testCert(t, dir, "phone")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(clientCert)
	pool.AppendCertsFromPEM(pem)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(caFile, certPEM(srv.Certificate()), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		prov config.Provision
		ok   bool
	}{
		{"system roots do not know the test server", config.Provision{CertFile: clientCert, KeyFile: clientKey}, false},
		{"trusted server, no client certificate", config.Provision{CAFile: caFile}, false},
		{"trusted server, client certificate", config.Provision{CAFile: caFile, CertFile: clientCert, KeyFile: clientKey}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			c := st.cur.Clone()
			c.Provision = tc.prov
			c.Provision.URL = srv.URL + "/p"
			st.cur = c
			p := newProv(t, st, "")
			err := p.Check(context.Background())
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && st.Config().Accounts[0].User != "1001" {
				t.Error("not applied")
			}
			if !tc.ok && st.count() != 0 {
				t.Error("saved over an unchecked connection")
			}
		})
	}
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// digestAuth checks RFC 7616 digest (MD5, qop=auth) for user/password,
// counting challenges sent.
type digestAuth struct {
	user, password, realm string
	mu                    sync.Mutex
	nonce                 int
	challenges            int
}

func (d *digestAuth) check(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	d.mu.Lock()
	defer d.mu.Unlock()
	nonce := fmt.Sprintf("n%d", d.nonce)
	if c, err := parseChallenge(h); err == nil && c.scheme == "digest" {
		p := c.params
		md := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
		ha1 := md(d.user + ":" + d.realm + ":" + d.password)
		ha2 := md(r.Method + ":" + r.URL.RequestURI())
		want := md(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
		if p["username"] == d.user && p["nonce"] == nonce && p["uri"] == r.URL.RequestURI() && p["response"] == want && p["opaque"] == "op" {
			return true
		}
	}
	d.challenges++
	w.Header().Add("WWW-Authenticate", `Basic realm="`+d.realm+`"`)
	w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", nonce=%q, opaque="op", algorithm=MD5`, d.realm, nonce))
	http.Error(w, "unauthorized", http.StatusUnauthorized)
	return false
}

func TestDigestAuth(t *testing.T) {
	fs := newFiles()
	fs.set("phone.yaml", common)
	fs.set("0011223344aa.yaml", perPhone)
	da := &digestAuth{user: "phone", password: "pw", realm: "phones"}
	fs.auth = da.check
	srv := httptest.NewServer(fs)
	defer srv.Close()
	for _, tc := range []struct {
		user, pw string
		ok       bool
	}{{"phone", "pw", true}, {"phone", "wrong", false}, {"", "", false}} {
		st := newMemStore()
		c := st.cur.Clone()
		c.Provision.Username, c.Provision.Password = tc.user, tc.pw
		st.cur = c
		p := newProv(t, st, srv.URL+"/p")
		err := p.Check(context.Background())
		if (err == nil) != tc.ok || (!tc.ok && !errors.Is(err, ErrAuth)) {
			t.Fatalf("%s/%s: %v", tc.user, tc.pw, err)
		}
		if tc.ok {
			// The challenge is reused: a second check costs no 401.
			da.mu.Lock()
			n := da.challenges
			da.mu.Unlock()
			if err := p.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			da.mu.Lock()
			if da.challenges != n {
				t.Errorf("second check drew %d more challenges", da.challenges-n)
			}
			// A new nonce (the old one stale): one more challenge, then on.
			da.nonce++
			da.mu.Unlock()
			fs.set("phone.yaml", common+"dtmf: info\n")
			if err := p.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st.Config().DTMF != "info" {
				t.Error("not applied after a new nonce")
			}
		}
	}
}

func TestRedirectToHTTPRefused(t *testing.T) {
	plain := httptest.NewServer(newFiles())
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/p/phone.yaml", http.StatusFound))
	defer tlsSrv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM(tlsSrv.Certificate()), 0o600); err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	c := st.cur.Clone()
	c.Provision = config.Provision{URL: tlsSrv.URL + "/p", CAFile: caFile}
	st.cur = c
	p := newProv(t, st, "")
	if err := p.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "redirect from https") {
		t.Errorf("err = %v", err)
	}
}

func TestRestartRequired(t *testing.T) {
	fs := newFiles()
	fs.set("phone.yaml", common)
	fs.set("0011223344aa.yaml", perPhone)
	srv := httptest.NewServer(fs)
	defer srv.Close()
	st := newMemStore()
	st.restart = true
	restarts := 0
	p := newProv(t, st, srv.URL+"/p", func(c *Config) { c.Restart = func() { restarts++ } })
	if err := p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if restarts != 1 {
		t.Errorf("restarts = %d", restarts)
	}
}

func TestFileName(t *testing.T) {
	if got := FileName(testMAC); got != "0011223344aa.yaml" {
		t.Errorf("FileName = %s", got)
	}
	for _, s := range []string{"http://h/p", "http://h/p/"} {
		if got := fileURL(s, "phone.yaml"); got != "http://h/p/phone.yaml" {
			t.Errorf("fileURL(%s) = %s", s, got)
		}
	}
}
