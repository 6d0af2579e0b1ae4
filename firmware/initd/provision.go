package initd

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/atomicfile"
	"github.com/deskphone/phone/firmware/config"
)

// Files in ConfigDir.
const (
	TokenFile  = "token"       // the device token, hex
	ConfigFile = "phone.yaml"  // the phone's config (docs/config.md)
	SystemFile = "system.json" // initd's settings (System)
)

// System holds initd's own settings (ConfigDir/system.json). Every field
// is optional.
type System struct {
	// Hostname; default "deskphone-" and the last 3 bytes of the MAC.
	Hostname string `json:"hostname,omitempty"`
	// Static, when set, replaces DHCP: "10.0.0.5/24".
	Static string `json:"static,omitempty"`
	// Gateway and DNS go with Static.
	Gateway string   `json:"gateway,omitempty"`
	DNS     []string `json:"dns,omitempty"`
	// NTP servers (host or host:port, port 123 by default), asked in
	// order by the SNTP client (ntp.Client) once the network is up and
	// then hourly; the clock is stepped when off by more than 128 ms.
	// None means no time sync: the clock is the RTC's (a Raspberry Pi
	// has none and starts in 1970).
	NTP []string `json:"ntp,omitempty"`
	// TrialDeadline is how long a trial boot has to become healthy;
	// default 3 minutes (generous for emulation).
	TrialDeadline Duration `json:"trial_deadline,omitempty"`
	// UpdateListen is the update agent's address; default ":8081".
	UpdateListen string `json:"update_listen,omitempty"`
}

// Duration is a time.Duration written as Go syntax ("90s") in JSON.
type Duration time.Duration

// String returns the duration in Go syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Defaults of System.
const (
	DefaultTrialDeadline = 3 * time.Minute
	DefaultUpdateListen  = ":8081"
	DefaultAPIPort       = "8080"
)

// Provisioned is the device's identity and settings after Provision.
type Provisioned struct {
	// Token is the device token: it authorises updates (update agent)
	// and the phone's API beyond loopback.
	Token string
	// ConfigPath is the phone's config file.
	ConfigPath string
	// System is initd's settings with defaults filled in.
	System System
	// FirstBoot is true when the token was made now.
	FirstBoot bool
}

// DefaultPhoneConfig is the config written on first boot. For the
// emulated board (qemu-arm64) it registers user 1001 to the tools/pbx
// `make qemu` starts on the host, which QEMU's user networking shows the
// guest as 10.0.2.2, so a new phone registers with no setup. The API
// listens on every address with the device token.
func DefaultPhoneConfig(board, token string) *config.Config {
	c := config.Default()
	c.API = config.API{Listen: ":" + DefaultAPIPort, Token: token}
	c.NAT.UPnP = false
	switch board {
	case "qemu-arm64", "qemu":
		c.Board = "qemu"
		a := config.DefaultAccount()
		a.User, a.AuthUser, a.Password, a.DisplayName = "1001", "1001", "1001pass", "QEMU phone"
		a.Domain, a.Registrar = "10.0.2.2", "10.0.2.2:5060"
		a.Expires = 300 * time.Second
		c.Accounts = []config.Account{a}
		// QEMU's user networking NATs the phone; the PBX (run with
		// -natfix) answers where requests come from and latches media.
		c.NAT.Strategies = []string{}
	case "rpi":
		c.Board = "rpi"
		// The image's phoned is static (CGO_ENABLED=0), so it has no
		// ALSA (hal/alsa needs cgo): keys, hook, LEDs and the codec
		// work, audio does not. A cgo build (make cross-rpi) can drop
		// this option.
		c.BoardOptions = map[string]string{"no_audio": "true"}
	}
	return c
}

// Provision prepares the device's files in dir (ConfigDir) on first boot
// and reads them on every boot: the device token (random, from rnd), the
// phone's config (DefaultPhoneConfig when absent) and the system
// settings. Files that exist are never overwritten.
func Provision(dir, board string, rnd io.Reader) (*Provisioned, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("initd: provision: %w", err)
	}
	p := &Provisioned{ConfigPath: filepath.Join(dir, ConfigFile)}
	tokPath := filepath.Join(dir, TokenFile)
	b, err := os.ReadFile(tokPath)
	switch {
	case err == nil && len(strings.TrimSpace(string(b))) >= 16:
		p.Token = strings.TrimSpace(string(b))
	case err == nil || errors.Is(err, fs.ErrNotExist):
		raw := make([]byte, 16)
		if _, err := io.ReadFull(rnd, raw); err != nil {
			return nil, fmt.Errorf("initd: token: %w", err)
		}
		p.Token = hex.EncodeToString(raw)
		if err := atomicfile.Write(tokPath, []byte(p.Token+"\n"), 0o600); err != nil {
			return nil, err
		}
		p.FirstBoot = true
	default:
		return nil, fmt.Errorf("initd: token: %w", err)
	}
	if _, err := os.Stat(p.ConfigPath); errors.Is(err, fs.ErrNotExist) {
		if err := config.Save(p.ConfigPath, DefaultPhoneConfig(board, p.Token)); err != nil {
			return nil, err
		}
	}
	sb, err := os.ReadFile(filepath.Join(dir, SystemFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(sb, &p.System); err != nil {
			return p, fmt.Errorf("initd: %s: %w", SystemFile, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return p, fmt.Errorf("initd: %s: %w", SystemFile, err)
	}
	if p.System.TrialDeadline <= 0 {
		p.System.TrialDeadline = Duration(DefaultTrialDeadline)
	}
	if p.System.UpdateListen == "" {
		p.System.UpdateListen = DefaultUpdateListen
	}
	return p, nil
}

// The factory reset key combination: off-hook, dial **73738 (R-E-S-E-T on
// the keypad) and #. The phone (a child of initd) exits with
// ExitFactoryReset; initd then resets and reboots.
const (
	FactoryResetCode = "**73738"
	ExitFactoryReset = 87
	// EnvChild is set ("1") in the phone's environment when initd runs it.
	EnvChild = "DESKPHONE_INITD_CHILD"
)

// FactoryReset removes the device's files (config, token, settings) so
// the next boot provisions it afresh. The A/B record and the installed
// firmware are kept.
func FactoryReset(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("initd: factory reset: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// TokenMatches reports whether an "Authorization: Bearer ..." header value
// carries the device token. It compares SHA-256 digests in constant time,
// so neither the token's bytes nor its length leak through timing; an
// empty token never matches.
func TokenMatches(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
