package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every problem names the
// file, and that whatever Parse accepts survives Marshal and Parse again
// unchanged.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/example.yaml", "testdata/demo.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("accounts:\n  - user: a\n    domain: example.com\n    transport: udpx\n"))
	f.Add([]byte("x: &a [*a]\n"))
	f.Add([]byte("ports: {sip: {min: 1, max: 70000}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("Config returned with an error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, line := range lines {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("problem does not name the file: %q", line)
				}
			}
			if n := len(Problems(err)); n != len(lines) {
				t.Fatalf("%d problems in %d lines: %q", n, len(lines), err)
			}
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of a parsed config: %v", err)
		}
		c2, err := Parse("g.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(plain(c), plain(c2)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v\n%s", plain(c), plain(c2), out)
		}
	})
}

// FuzzRoundTrip puts arbitrary text in the free-form fields of a valid
// Config and checks that Save's encoding reads back unchanged, whatever
// YAML would make of the text (quotes, "#", ": ", "null", "yes", ...).
func FuzzRoundTrip(f *testing.F) {
	f.Add("s3cret", "Alice", "tok", "bus", "1", "/tmp/a.wav")
	f.Add("null", "yes", "~", "0x1a", "- x", "#: '\"")
	f.Add("", "", "", "k", "", "a\tb")
	f.Fuzz(func(t *testing.T, password, display, token, optKey, optVal, wavPath string) {
		c := full()
		c.Accounts[0].Password = password
		c.Accounts[0].DisplayName = display
		c.API.Token = token
		c.BoardOptions = map[string]string{optKey: optVal}
		c.Audio.Input = "wav:" + wavPath
		if c.Validate() != nil {
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(plain(got), c) {
			t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\n%s", plain(got), c, out)
		}
	})
}
