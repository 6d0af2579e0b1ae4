package config

import (
	"strings"
	"testing"
)

func TestSyslogSection(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("log:\n  syslog: {server: \"[2001:db8::1]:1514\", transport: TCP, facility: local3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Syslog{Server: "[2001:db8::1]:1514", Transport: "tcp", Facility: "local3"}); c.Log.Syslog != want {
		t.Errorf("got %+v, want %+v", c.Log.Syslog, want)
	}
	c, err = Parse("phone.yaml", []byte("log: {level: info}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Syslog != DefaultSyslog || c.Log.Syslog.Server != "" {
		t.Errorf("default %+v", c.Log.Syslog)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"log:\n  syslog:\n    server: logs.example.net\n    facility: local9\n", `phone.yaml:4: log.syslog.facility: "local9" is not one of`},
		{"log:\n  syslog:\n    transport: tls\n", `phone.yaml:3: log.syslog.transport: "tls" is not one of udp, tcp`},
		{"log:\n  syslog:\n    server: \"bad host:514\"\n", `phone.yaml:3: log.syslog.server: "bad host:514": not host[:port]`},
		{"log:\n  syslog:\n    server: \"h:0\"\n", `phone.yaml:3: log.syslog.server: "h:0": port must be 1..65535`},
		{"log:\n  syslog:\n    level: debug\n", `phone.yaml:3: log.syslog.level: unknown key`},
	} {
		_, err := Parse("phone.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
