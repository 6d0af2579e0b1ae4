package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// TestClientCertificate: an account's tls_cert_file and tls_key_file
// become the client certificate its UA presents; a key that does not
// match the certificate is a start-up error naming both files.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2 := key(), key()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k1.PublicKey, k1)
	if err != nil {
		t.Fatal(err)
	}
	cert := write("alice.pem", "CERTIFICATE", der)
	b1, _ := x509.MarshalECPrivateKey(k1)
	b2, _ := x509.MarshalECPrivateKey(k2)
	good, wrong := write("alice.key", "EC PRIVATE KEY", b1), write("other.key", "EC PRIVATE KEY", b2)

	a := config.DefaultAccount()
	a.User, a.Domain, a.Transport, a.TLSCertFile, a.TLSKeyFile = "alice", "pbx.example", "tls", cert, good
	sa, err := sipAccount(a)
	if err != nil {
		t.Fatal(err)
	}
	if sa.TLS == nil || len(sa.TLS.Certificates) != 1 {
		t.Fatalf("no client certificate in %+v", sa.TLS)
	}
	a.TLSKeyFile = wrong
	if _, err := sipAccount(a); err == nil || !strings.Contains(err.Error(), "alice.pem") || !strings.Contains(err.Error(), "other.key") {
		t.Errorf("mismatched key: %v, want an error naming both files", err)
	}
}
