package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const blfAccounts = `accounts:
  - user: "1001"
    domain: pbx.example.com
    blf_list: sip:office-blf@pbx.example.com
  - user: "2001"
    domain: other.example.com
`

func TestParseBLF(t *testing.T) {
	in := blfAccounts + `blf:
  - key: BLF1
    user: "1002"
    label: Bob
    pickup_code: "*8"
  - key: blf8
    line: 1
    user: sip:carol@other.example.com
`
	c, err := Parse("phone.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []BLFKey{
		{Key: "blf1", User: "1002", Label: "Bob", PickupCode: "*8"},
		{Key: "blf8", Line: 1, User: "sip:carol@other.example.com"},
	}
	if !reflect.DeepEqual(c.BLF, want) {
		t.Errorf("blf = %+v, want %+v", c.BLF, want)
	}
	if c.Accounts[0].BLFList != "sip:office-blf@pbx.example.com" || c.Accounts[1].BLFList != "" {
		t.Errorf("blf_list %q %q", c.Accounts[0].BLFList, c.Accounts[1].BLFList)
	}
	// Marshal and Parse give the same keys back; Clone does not share them.
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse("again.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(plain(c2), plain(c)) {
		t.Errorf("round trip changed the config:\n%s", out)
	}
	cl := c.Clone()
	cl.BLF[0].User = "9999"
	if c.BLF[0].User != "1002" {
		t.Error("Clone shares the blf list")
	}
	path := filepath.Join(t.TempDir(), "phone.yaml")
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	if c3, err := Load(path); err != nil || !reflect.DeepEqual(c3.BLF, want) {
		t.Errorf("Load after Save: %v %+v", err, c3)
	}
}

func TestBLFKeyIndex(t *testing.T) {
	for name, want := range map[string]int{"blf1": 0, "blf8": 7} {
		if n, ok := BLFKeyIndex(name); !ok || n != want {
			t.Errorf("BLFKeyIndex(%q) = %d, %v", name, n, ok)
		}
	}
	for _, name := range []string{"", "blf", "blf0", "blf9", "blf10", "BLF1", "blf+1", "line1"} {
		if _, ok := BLFKeyIndex(name); ok {
			t.Errorf("BLFKeyIndex(%q) accepted", name)
		}
	}
}

// TestParseBadBLF: every problem of the blf section names the file, the
// line and the field.
func TestParseBadBLF(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // each a prefix of one line of the error, in order
		is       error
	}{
		{"bad key", blfAccounts + "blf:\n  - key: blf9\n    user: \"1002\"\n",
			[]string{`phone.yaml:8: blf[0].key: "blf9" is not a busy lamp key (blf1..blf8)`}, ErrInvalid},
		{"missing key and user", blfAccounts + "blf:\n  - label: x\n",
			[]string{`phone.yaml:8: blf[0].key: required (blf1..blf8)`, `phone.yaml:8: blf[0].user: required`}, ErrInvalid},
		{"duplicate key", blfAccounts + "blf:\n  - key: blf2\n    user: \"1002\"\n  - key: BLF2\n    user: \"1003\"\n",
			[]string{`phone.yaml:10: blf[1].key: blf2 is used twice (first in blf[0], line 8)`}, ErrInvalid},
		{"unknown line", blfAccounts + "blf:\n  - key: blf1\n    line: 2\n    user: \"1002\"\n",
			[]string{`phone.yaml:9: blf[0].line: no account 2: line is an index in accounts, 0..1`}, ErrInvalid},
		{"no accounts", "blf:\n  - key: blf1\n    user: \"1002\"\n",
			[]string{`phone.yaml:2: blf[0].line: no account 0: there are no accounts`}, ErrInvalid},
		{"line not a number", blfAccounts + "blf:\n  - key: blf1\n    line: first\n    user: \"1002\"\n",
			[]string{`phone.yaml:9: blf[0].line: "first" is not an integer`}, ErrInvalid},
		{"unknown field", blfAccounts + "blf:\n  - key: blf1\n    user: \"1002\"\n    colour: red\n",
			[]string{`phone.yaml:10: blf[0].colour: unknown key (known keys: key, label, line, pickup_code, user)`}, ErrUnknownKey},
		{"bad user", blfAccounts + "blf:\n  - key: blf1\n    user: \"bob smith\"\n",
			[]string{`phone.yaml:9: blf[0].user: "bob smith": must not contain spaces`}, ErrInvalid},
		{"tel user", blfAccounts + "blf:\n  - key: blf1\n    user: \"tel:+4412\"\n",
			[]string{`phone.yaml:9: blf[0].user: "tel:+4412": the dialog event package needs a SIP user`}, ErrInvalid},
		{"bad pickup code", blfAccounts + "blf:\n  - key: blf1\n    user: \"1002\"\n    pickup_code: \"*8a\"\n",
			[]string{`phone.yaml:10: blf[0].pickup_code: "*8a": only 0-9, * and #`}, ErrInvalid},
		{"long label", blfAccounts + "blf:\n  - key: blf1\n    user: \"1002\"\n    label: \"" + strings.Repeat("x", 33) + "\"\n",
			[]string{`phone.yaml:10: blf[0].label: 33 characters; at most 32`}, ErrInvalid},
		{"control label", blfAccounts + "blf:\n  - key: blf1\n    user: \"1002\"\n    label: \"a\\x07b\"\n",
			[]string{`phone.yaml:10: blf[0].label: "a\ab" holds control characters`}, ErrInvalid},
		{"empty item", blfAccounts + "blf:\n  -\n",
			[]string{`phone.yaml:8: blf[0]: empty busy lamp key`}, ErrInvalid},
		{"not a list", blfAccounts + "blf: blf1\n",
			[]string{`phone.yaml:7: blf: expected a list, got "blf1"`}, ErrInvalid},
		{"bad blf_list", "accounts:\n  - user: a\n    domain: example.com\n    blf_list: \"http://x/list\"\n",
			[]string{`phone.yaml:4: accounts[0].blf_list: "http://x/list": only a number`}, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("phone.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", plain(c))
			}
			if c != nil {
				t.Error("Config returned with an error")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
		})
	}
}

// TestValidateBLFInCode: a Config built in code is checked the same way,
// the problems naming only the field.
func TestValidateBLFInCode(t *testing.T) {
	c := Default()
	c.Accounts = []Account{DefaultAccount()}
	c.Accounts[0].User, c.Accounts[0].Domain, c.Accounts[0].Registrar = "1001", "example.com", "example.com"
	c.BLF = []BLFKey{{Key: "blf1", User: "1002"}, {Key: "blf1", User: "1003", Line: -1}}
	err := c.Validate()
	want := "blf[1].key: blf1 is used twice (first in blf[0])\nblf[1].line: no account -1: line is an index in accounts, 0..0"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
}

// TestDeleteAccountKeepsKeys: deleting an account drops its busy lamp
// keys and renumbers those of the accounts after it.
func TestDeleteAccountKeepsKeys(t *testing.T) {
	c := Default()
	for _, u := range []string{"a", "b", "c"} {
		a := DefaultAccount()
		a.User, a.Domain, a.Registrar = u, "example.com", "example.com"
		c.Accounts = append(c.Accounts, a)
	}
	c.BLF = []BLFKey{{Key: "blf1", Line: 0, User: "1"}, {Key: "blf2", Line: 1, User: "2"}, {Key: "blf3", Line: 2, User: "3"}}
	orig := c.Clone()
	c.DeleteAccount(1)
	want := []BLFKey{{Key: "blf1", Line: 0, User: "1"}, {Key: "blf3", Line: 1, User: "3"}}
	if len(c.Accounts) != 2 || c.Accounts[1].User != "c" || !reflect.DeepEqual(c.BLF, want) {
		t.Errorf("after DeleteAccount(1): accounts %v, blf %+v", c.Accounts, c.BLF)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if len(orig.Accounts) != 3 || orig.Accounts[1].User != "b" {
		t.Error("DeleteAccount changed the config it was cloned from")
	}
	c.DeleteAccount(5)
	if len(c.Accounts) != 2 || len(c.BLF) != 2 {
		t.Error("DeleteAccount out of range changed something")
	}
}
