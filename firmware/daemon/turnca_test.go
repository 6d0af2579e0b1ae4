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
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// TestTURNCAFile: nat.turn.ca_file becomes the TURN leg's only roots; a
// file without a certificate, or a missing one, is a start-up error.
func TestTURNCAFile(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "turn test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.NAT.TURN = config.TURN{Server: "198.51.100.1:443", Username: "u", Password: "p", Transport: "tls", CAFile: ca}
	pc, err := portConfig(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pc.TURN.TLSConfig == nil || pc.TURN.TLSConfig.RootCAs == nil {
		t.Fatalf("TLS config %+v, want the CA file's roots", pc.TURN.TLSConfig)
	}
	cfg.NAT.TURN.CAFile = ""
	if pc, _ = portConfig(cfg, nil, nil); pc.TURN.TLSConfig != nil {
		t.Fatalf("no ca_file: TLS config %+v, want nil (system roots)", pc.TURN.TLSConfig)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{empty, filepath.Join(dir, "missing.pem")} {
		cfg.NAT.TURN.CAFile = f
		if _, err := portConfig(cfg, nil, nil); err == nil {
			t.Errorf("ca_file %s accepted", f)
		}
	}
}
