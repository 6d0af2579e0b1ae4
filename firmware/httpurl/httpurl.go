// Package httpurl checks the URL of a provisioning server or firmware
// download, for the config and for the host tools (tools/flash), which
// must not link the config's YAML decoder. A leaf: it imports only the
// standard library.
package httpurl

import (
	"fmt"
	"net/url"
)

// Check reports whether s is an absolute http or https URL with a host,
// without credentials (they go in provision.username and
// provision.password) or a fragment.
func Check(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: the scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries credentials: use provision.username and provision.password", s)
	case u.Fragment != "":
		return fmt.Errorf("%q has a fragment (#)", s)
	}
	return nil
}
