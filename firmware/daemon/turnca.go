package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// turnTLS is the TLS configuration of the leg to the TURN servers for
// nat.turn.ca_file: the CA certificates in the PEM file caFile as the
// only roots. With no file it is nil (the system roots).
func turnTLS(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("daemon: nat.turn.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("daemon: nat.turn.ca_file %s: no PEM certificate found", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
