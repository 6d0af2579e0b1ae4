package config

// clientCert checks an account's TLS client certificate settings: the
// certificate and key come as a pair, and only a transport that can run
// TLS uses them. The files themselves are read by phoned at start (as
// tls_ca_file is), so a missing file is a start-up error naming it.
func (v *validator) clientCert(p string, a Account) {
	v.text(p+".tls_cert_file", a.TLSCertFile)
	v.text(p+".tls_key_file", a.TLSKeyFile)
	switch {
	case a.TLSCertFile != "" && a.TLSKeyFile == "":
		v.fail(p+".tls_key_file", "required with tls_cert_file")
	case a.TLSCertFile == "" && a.TLSKeyFile != "":
		v.fail(p+".tls_cert_file", "required with tls_key_file")
	case a.TLSCertFile != "" && a.Transport != "tls" && a.Transport != "auto":
		v.fail(p+".tls_cert_file", "a client certificate needs transport tls or auto, not %q", a.Transport)
	}
}
