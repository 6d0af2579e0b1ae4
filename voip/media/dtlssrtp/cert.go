package dtlssrtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/deskphone/phone/voip/sdp"
)

// Certificate is a phone's DTLS identity: a self-signed ECDSA P-256
// certificate and its SHA-256 fingerprint for the SDP.
type Certificate struct {
	tls tls.Certificate
	fp  sdp.Fingerprint
}

// NewCertificate makes a fresh key and self-signed certificate, valid
// from a day ago for a year (peers check the fingerprint, not the dates;
// the margins keep a peer with a wrong clock from refusing it).
func NewCertificate() (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dtlssrtp: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, fmt.Errorf("dtlssrtp: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "deskphone"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("dtlssrtp: certificate: %w", err)
	}
	fp, err := sdp.FingerprintOf("sha-256", der)
	if err != nil {
		return nil, err
	}
	return &Certificate{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, fp: fp}, nil
}

// Fingerprint is the certificate's SHA-256 fingerprint (a=fingerprint).
func (c *Certificate) Fingerprint() sdp.Fingerprint { return c.fp }
