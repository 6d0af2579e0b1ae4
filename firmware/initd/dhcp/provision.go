package dhcp

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Options that name a provisioning server (docs/provisioning.md).
const (
	// optVendorSpecific (43, RFC 2132 section 8.4) carries, for this
	// phone, the text VendorPrefix followed by the server URL.
	optVendorSpecific = 43
	// optVendorClass (60, RFC 2132 section 9.13): the client sends
	// VendorClass, so a server can hand option 43 to these phones only.
	optVendorClass = 60
	// optTFTPServerName (66, RFC 2132 section 9.4): a server name or, as
	// desk phones use it, a URL.
	optTFTPServerName = 66
	// optTFTPServerAddr (150, RFC 5859): IPv4 addresses of servers.
	optTFTPServerAddr = 150
)

// VendorClass is sent in option 60; VendorPrefix starts this phone's
// provisioning URL in option 43.
const (
	VendorClass  = "deskphone"
	VendorPrefix = "deskphone:"
)

// ProvisionURL returns the provisioning server URL a DHCP answer names,
// "" when none: option 43 when it holds VendorPrefix and a URL (meant
// for this phone and no other), else option 66 (an http:// or https://
// URL as is; a bare host name or address becomes http://host), else the
// first address of option 150 (http://addr). Anything else (a tftp://
// URL, text that is not a URL) is ignored.
func ProvisionURL(m *Message) string {
	if v, ok := strings.CutPrefix(string(m.Options[optVendorSpecific]), VendorPrefix); ok {
		if u := httpURL(v); u != "" {
			return u
		}
	}
	if v := m.Options[optTFTPServerName]; len(v) > 0 {
		if u := httpURL(string(v)); u != "" {
			return u
		}
	}
	if v := m.Options[optTFTPServerAddr]; len(v) >= 4 {
		if a := addr4(v[:4]); a.IsValid() && !a.IsUnspecified() {
			return "http://" + a.String()
		}
	}
	return ""
}

// httpURL returns s as an http(s) URL, or "" when it is not one: an
// http:// or https:// URL with a host, or a bare host name or address.
func httpURL(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "\x00") // some servers send C strings
	if s == "" || len(s) > 1024 || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n\x00") {
		return ""
	}
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/?#@") {
			return ""
		}
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
		return ""
	}
	return u.String()
}

// provisionParams are the options the client asks for.
var provisionParams = []byte{optVendorSpecific, optTFTPServerName, optTFTPServerAddr}
