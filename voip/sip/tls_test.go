package sip

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/pion/transport/v4/stdnet"
)

// selfSigned makes a server certificate for 127.0.0.1 and ::1 that no
// system root trusts.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test pbx"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestRegisterTLS registers over TLS on loopback (sipgo dials; the port
// manager gives the address to advertise): a server certificate outside
// the trust pool is a clear x509 registration error; with the CA
// configured the phone registers.
func TestRegisterTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	cert, pool := selfSigned(t)
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{
		Realm:     "pbx.test",
		Users:     map[string]string{"alice": "secret"},
		Net:       n,
		Listen:    netip.MustParseAddrPort("127.0.0.1:0"),
		TLS:       netip.MustParseAddrPort("127.0.0.1:0"),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	run := func(tc *tls.Config) RegStatus {
		return registerTLS(t, n, srv.TLSAddr().String(), portmgr.Range{Min: 45060, Max: 45069}, portmgr.Range{Min: 46000, Max: 46099}, tc)
	}
	st := run(nil)
	if st.State != RegFailed || !strings.Contains(st.Reason, "x509") {
		t.Errorf("untrusted certificate: %+v, want failed with an x509 error", st)
	}
	st = run(&tls.Config{RootCAs: pool})
	if st.State != RegRegistered {
		t.Errorf("with the CA: %+v", st)
	}
	if !strings.Contains(st.Contact, "transport=tls") {
		t.Errorf("contact %q lacks transport=tls", st.Contact)
	}
}

// registerTLS registers alice once over TLS at registrar with tc, on the
// SIP and media port ranges, and returns the first final registration
// state (registered or failed).
func registerTLS(t *testing.T, n *stdnet.Net, registrar string, sipPorts, mediaPorts portmgr.Range, tc *tls.Config) RegStatus {
	t.Helper()
	pm, err := portmgr.New(portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts: sipPorts, MediaPorts: mediaPorts})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	ua, err := New(Config{Mapper: pm, Account: Account{
		User: "alice", Password: "secret", Domain: "pbx.test", Transport: "tls", Registrar: registrar, TLS: tc,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-ua.Events():
			if r, ok := ev.(*RegistrationEvent); ok && (r.Status.State == RegRegistered || r.Status.State == RegFailed) {
				return r.Status
			}
		case <-timeout:
			t.Fatal("no registration result")
		}
	}
}
