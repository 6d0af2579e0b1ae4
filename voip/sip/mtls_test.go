package sip

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/pion/transport/v4/stdnet"
)

// clientCert makes a client certificate for "alice" signed by a fresh CA,
// valid from notBefore to notAfter, and returns it with the CA's pool.
func clientCert(t *testing.T, notBefore, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestRegisterMutualTLS: a registrar that requires a client certificate
// (mutual TLS, as some providers do) refuses a phone without one and a
// phone whose certificate has expired, each as a failed registration with
// a reason; with a valid certificate the phone registers.
func TestRegisterMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	srvCert, srvPool := selfSigned(t)
	now := time.Now()
	good, clientPool := clientCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredPool := clientCert(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	clientPool.AddCert(mustParse(t, expiredPool, expired))
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{
		Realm: "pbx.test", Users: map[string]string{"alice": "secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		TLS:    netip.MustParseAddrPort("127.0.0.1:0"),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{srvCert},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	run := func(certs []tls.Certificate) RegStatus {
		return registerTLS(t, n, srv.TLSAddr().String(), portmgr.Range{Min: 45070, Max: 45079}, portmgr.Range{Min: 46100, Max: 46199},
			&tls.Config{RootCAs: srvPool, Certificates: certs})
	}
	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "expired": {expired}} {
		st := run(certs)
		t.Logf("%s: %s %q", name, st.State, st.Reason)
		want := map[string]string{"no certificate": "may require a client certificate", "expired": "client certificate (alice) expired on"}[name]
		if st.State != RegFailed || !strings.Contains(st.Reason, want) {
			t.Errorf("%s: %+v, want a failed registration saying %q", name, st, want)
		}
	}
	if st := run([]tls.Certificate{good}); st.State != RegRegistered {
		t.Errorf("with a valid client certificate: %+v", st)
	}
}

// mustParse returns the CA of pool that signed c (the only one in pool).
func mustParse(t *testing.T, pool *x509.CertPool, c tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: leaf.NotBefore.Add(time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	return chains[0][len(chains[0])-1]
}

func TestTLSHint(t *testing.T) {
	now := time.Now()
	future, _ := clientCert(t, now.Add(time.Hour), now.Add(2*time.Hour))
	good, _ := clientCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	closed := errors.New("connection closed")
	for _, c := range []struct {
		certs []tls.Certificate
		err   error
		want  string
	}{
		{[]tls.Certificate{future}, closed, "not valid before"},
		{[]tls.Certificate{good}, closed, "may refuse our client certificate (alice, issued by test client CA)"},
		{nil, closed, "may require a client certificate"},
		{nil, errors.New("x509: certificate signed by unknown authority"), ""},
		{[]tls.Certificate{good}, nil, ""},
	} {
		got := tlsHint(&tls.Config{Certificates: c.certs}, c.err, now)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("tlsHint(%d certs, %v) = %q, want %q", len(c.certs), c.err, got, c.want)
		}
	}
	if got := tlsHint(nil, nil, now); got != "" {
		t.Errorf("no config, no error: %q", got)
	}
}

// TestRefusedTLSBacksOff: a registrar that takes each TLS connection and
// closes it (TLS 1.3 refusing a client without a certificate) gets a
// few REGISTER attempts backing off, not a storm of one per round trip
// (over a thousand in 4 s before, which then crashed inside sipgo).
func TestRefusedTLSBacksOff(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	srvCert, srvPool := selfSigned(t)
	_, clientPool := clientCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{
		Realm: "pbx.test", Users: map[string]string{"alice": "secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"), TLS: netip.MustParseAddrPort("127.0.0.1:0"),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pm, err := portmgr.New(portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts: portmgr.Range{Min: 45080, Max: 45089}, MediaPorts: portmgr.Range{Min: 46200, Max: 46299}})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	ua, err := New(Config{Mapper: pm, Account: Account{User: "alice", Password: "secret", Domain: "pbx.test",
		Transport: "tls", Registrar: srv.TLSAddr().String(), TLS: &tls.Config{RootCAs: srvPool}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	if err := ua.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	failed := 0
	end := time.After(4 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-ua.Events():
			if r, ok := ev.(*RegistrationEvent); ok && r.Status.State == RegFailed {
				failed++
			}
		case <-end:
			done = true
		}
	}
	if failed == 0 || failed > 12 {
		t.Errorf("%d failed registrations in 4 s against a registrar refusing every connection, want a few (backing off)", failed)
	}
	t.Logf("%d failed registrations in 4 s", failed)
}
