package sip

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// tlsHint explains a failed registration over TLS where the error alone
// does not: the client certificate we present has expired or is not yet
// valid, or the server closed the connection after the handshake (in TLS
// 1.3 a server that refuses the client's certificate, or requires one,
// says so only with an alert after the client thinks the handshake is
// done, and sipgo reports a closed connection). Empty when there is
// nothing to add.
func tlsHint(conf *tls.Config, err error, now time.Time) string {
	var leaf *x509.Certificate
	if conf != nil && len(conf.Certificates) > 0 && len(conf.Certificates[0].Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	}
	switch {
	case leaf != nil && now.After(leaf.NotAfter):
		return fmt.Sprintf("; our client certificate (%s) expired on %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	case leaf != nil && now.Before(leaf.NotBefore):
		return fmt.Sprintf("; our client certificate (%s) is not valid before %s (is the clock right?)", leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	case err == nil:
		return ""
	}
	msg := err.Error()
	if !strings.Contains(msg, "closed") && !strings.Contains(msg, "reset") && !strings.Contains(msg, "certificate required") && !strings.Contains(msg, "bad certificate") {
		return ""
	}
	if leaf == nil {
		return "; the server closed the TLS connection: it may require a client certificate (tls_cert_file)"
	}
	return fmt.Sprintf("; the server closed the TLS connection: it may refuse our client certificate (%s, issued by %s)", leaf.Subject.CommonName, leaf.Issuer.CommonName)
}
