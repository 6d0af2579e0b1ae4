package initd

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/deskphone/phone/firmware/atomicfile"
)

// DHCPProvisionFile is where initd leaves the provisioning server URL
// its DHCP lease named (options 43, 66, 150; dhcp.ProvisionURL) for
// phoned, which reads it before every check (firmware/provision). It
// lives on the RAM disk beside resolv.conf: a lease is this boot's.
const DHCPProvisionFile = "/tmp/provision-url"

// WriteProvisionURL records url at path, or removes the file when url is
// empty.
func WriteProvisionURL(path, url string) error {
	if url == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return atomicfile.Write(path, []byte(url+"\n"), 0o644)
}

// ReadProvisionURL returns the URL recorded at path, "" when none.
func ReadProvisionURL(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 2048 {
		return ""
	}
	return strings.TrimSpace(string(b))
}
