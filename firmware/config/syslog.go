package config

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/deskphone/phone/firmware/syslog"
)

// Syslog sends the daemon's log to a remote syslog server as well
// (log.syslog), RFC 5424 over UDP or TCP (package firmware/syslog).
type Syslog struct {
	// Server is host:port of the syslog server, the port 514 when left
	// out (server). Default: "" (off).
	Server string
	// Transport is "udp" or "tcp" (transport); "" is udp. Default: udp.
	Transport string
	// Facility is the syslog facility: kern, user, mail, daemon, auth,
	// syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security,
	// console or local0..local7 (facility); "" is user. Default: user.
	Facility string
}

// DefaultSyslog is log.syslog's default: off.
var DefaultSyslog = Syslog{Transport: syslog.DefaultTransport, Facility: syslog.DefaultFacility}

// SyslogTransports are the values of log.syslog.transport.
var SyslogTransports = []string{"udp", "tcp"}

type fileSyslog struct {
	Server    string `yaml:"server"`
	Transport string `yaml:"transport"`
	Facility  string `yaml:"facility"`
}

func (d *decoder) syslog(s *Syslog) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.mapping(n, path, fields{
			"server":    d.str(&s.Server),
			"transport": d.lower(&s.Transport),
			"facility":  d.lower(&s.Facility),
		})
	}
}

// syslog checks log.syslog: a server of host[:port], a known transport
// and facility.
func (v *validator) syslog(s Syslog) {
	// "" is the default (a Config built in code).
	if s.Transport != "" {
		v.oneOf("log.syslog.transport", s.Transport, SyslogTransports)
	}
	if _, ok := syslog.Facilities[s.Facility]; !ok && s.Facility != "" {
		names := make([]string, 0, len(syslog.Facilities))
		for k := range syslog.Facilities {
			names = append(names, k)
		}
		slices.Sort(names)
		v.fail("log.syslog.facility", "%q is not one of %s", s.Facility, strings.Join(names, ", "))
	}
	if s.Server == "" {
		return
	}
	host, port := s.Server, ""
	if h, p, err := net.SplitHostPort(s.Server); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if !validHost(host) {
		v.fail("log.syslog.server", "%q: not host[:port] with an IP address or host name", s.Server)
		return
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.fail("log.syslog.server", "%q: port must be 1..65535", s.Server)
		}
	}
}
