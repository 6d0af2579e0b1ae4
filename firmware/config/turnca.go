package config

// turnCA checks nat.turn.ca_file: a CA file only means something for
// the TLS leg to the TURN servers. The file itself is read by phoned at
// start (as an account's tls_ca_file is), so a missing or empty file is
// a start-up error naming it.
func (v *validator) turnCA(t TURN) {
	if t.CAFile == "" {
		return
	}
	v.text("nat.turn.ca_file", t.CAFile)
	if t.Transport != "tls" {
		v.fail("nat.turn.ca_file", "a CA file needs nat.turn.transport tls, not %q", t.Transport)
	}
}
