package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// BLFKey is one busy lamp key (an item of blf): a key whose lamp shows
// whether a colleague's phone is idle, ringing or in a call (RFC 4235
// dialog event package), and which calls that colleague, or picks up
// the call ringing there.
type BLFKey struct {
	// Key is the key (key): "blf1" .. "blf8", each at most once.
	// Required.
	Key string
	// Line is the index in accounts of the account the key watches and
	// calls through (line). Default: 0. A key whose account is disabled
	// does nothing (the daemon logs it).
	Line int
	// User is whom the key watches and calls (user): a number or user at
	// the account's domain, user@host or a sip: URI. Required.
	User string
	// Label names the key on the screen and in the status (label), at
	// most MaxBLFLabel characters. Default: User.
	Label string
	// PickupCode is the PBX's directed pickup prefix (pickup_code), e.g.
	// "*8": pressing the key while the user's phone rings dials the code
	// followed by User. Without it the phone picks up with an INVITE
	// carrying Replaces, which only a B2BUA PBX takes over
	// (docs/mwi-blf.md). Only 0-9, * and #. Default: none.
	PickupCode string
}

// Limits of the blf section.
const (
	// MaxBLFKeys is how many busy lamp keys a phone has (blf1..blf8).
	MaxBLFKeys = 8
	// MaxBLFLabel bounds a key's label, in characters.
	MaxBLFLabel = 32
)

// BLFKeyIndex returns the 0-based index of a key name "blf1".."blf8"
// and whether name is one.
func BLFKeyIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blf")
	if !ok || len(rest) != 1 {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > MaxBLFKeys {
		return 0, false
	}
	return n - 1, true
}

// blf decodes the top-level blf list.
func (d *decoder) blf(dst *[]BLFKey) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.sequence(n, path, func() { *dst = nil }, func(e *yaml.Node, p string) {
			if r := d.resolve(e, p); r != nil && isNull(r) {
				d.fail(r.Line, p, ErrInvalid, "empty busy lamp key")
				return
			}
			var k BLFKey
			d.mapping(e, p, fields{
				"key":         d.lower(&k.Key),
				"line":        d.integer(&k.Line),
				"user":        d.str(&k.User),
				"label":       d.str(&k.Label),
				"pickup_code": d.str(&k.PickupCode),
			})
			*dst = append(*dst, k)
		})
	}
}

// blf checks the busy lamp keys against the accounts, and each
// account's blf_list.
func (v *validator) blf(c *Config) {
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d].blf_list", i)
		if a.BLFList == "" {
			continue
		}
		if err := checkTarget(a.BLFList); err != nil {
			v.fail(p, "%q: %v", a.BLFList, err)
		} else if strings.HasPrefix(strings.ToLower(a.BLFList), "tel:") {
			v.fail(p, "%q: a resource list is a SIP URI or user, not a tel: URI", a.BLFList)
		}
	}
	first := map[string]int{} // key -> index in c.BLF
	for i, k := range c.BLF {
		p := fmt.Sprintf("blf[%d]", i)
		switch _, ok := BLFKeyIndex(k.Key); {
		case k.Key == "":
			v.failNear(p+".key", p, "required (blf1..blf%d)", MaxBLFKeys)
		case !ok:
			v.fail(p+".key", "%q is not a busy lamp key (blf1..blf%d)", k.Key, MaxBLFKeys)
		default:
			if j, dup := first[k.Key]; dup {
				at := ""
				if v.src != nil {
					at = fmt.Sprintf(", line %d", v.src.line(fmt.Sprintf("blf[%d].key", j)))
				}
				v.fail(p+".key", "%s is used twice (first in blf[%d]%s)", k.Key, j, at)
			} else {
				first[k.Key] = i
			}
		}
		if k.Line < 0 || k.Line >= len(c.Accounts) {
			if len(c.Accounts) == 0 {
				v.failNear(p+".line", p, "no account %d: there are no accounts", k.Line)
			} else {
				v.failNear(p+".line", p, "no account %d: line is an index in accounts, 0..%d", k.Line, len(c.Accounts)-1)
			}
		}
		switch {
		case k.User == "":
			v.failNear(p+".user", p, "required (the number or user the key watches)")
		case strings.HasPrefix(strings.ToLower(k.User), "tel:"):
			v.fail(p+".user", "%q: the dialog event package needs a SIP user, not a tel: URI", k.User)
		default:
			if err := checkTarget(k.User); err != nil {
				v.fail(p+".user", "%q: %v", k.User, err)
			}
		}
		v.text(p+".label", k.Label)
		if strings.ContainsFunc(k.Label, unicode.IsControl) {
			v.fail(p+".label", "%q holds control characters", k.Label)
		} else if n := utf8.RuneCountInString(k.Label); n > MaxBLFLabel {
			v.fail(p+".label", "%d characters; at most %d", n, MaxBLFLabel)
		}
		for _, r := range k.PickupCode {
			if !(r >= '0' && r <= '9' || r == '*' || r == '#') {
				v.fail(p+".pickup_code", "%q: only 0-9, * and #", k.PickupCode)
				break
			}
		}
	}
}

// fileBLF is a busy lamp key as Marshal writes it.
type fileBLF struct {
	Key        string `yaml:"key"`
	Line       int    `yaml:"line"`
	User       string `yaml:"user"`
	Label      string `yaml:"label"`
	PickupCode string `yaml:"pickup_code"`
}

// marshalBLF is c.BLF for Marshal: never nil, since an absent key would
// mean the default.
func marshalBLF(keys []BLFKey) []fileBLF {
	out := []fileBLF{}
	for _, k := range keys {
		out = append(out, fileBLF(k))
	}
	return out
}

// DeleteAccount removes accounts[i] and keeps the busy lamp keys on the
// accounts they watched: the keys of account i go with it, and those of
// the accounts after it follow their account's new index. An i out of
// range changes nothing.
func (c *Config) DeleteAccount(i int) {
	if i < 0 || i >= len(c.Accounts) {
		return
	}
	c.Accounts = slices.Delete(slices.Clone(c.Accounts), i, i+1)
	var keys []BLFKey
	for _, k := range c.BLF {
		switch {
		case k.Line == i:
			continue
		case k.Line > i:
			k.Line--
		}
		keys = append(keys, k)
	}
	c.BLF = keys
}
