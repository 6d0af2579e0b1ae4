package main

import (
	"strings"
	"testing"
)

// TestRunBadFlags checks that bad command lines fail with a message
// naming the flag instead of starting a PBX.
func TestRunBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "nowhere"}, "-listen"},
		{[]string{"-user", "nocolon"}, "name:password"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"-tcp", "1.2.3.4"}, "-tcp"},
		{[]string{"-tls", "127.0.0.1:0", "-tls-cert", "/nonexistent", "-tls-key", "/nonexistent"}, "-tls-cert"},
		{[]string{"-algorithm", "SHA-1", "-listen", "127.0.0.1:0"}, "algorithm"},
		{[]string{"-user", "alice@bad domain:x", "-listen", "127.0.0.1:0"}, "domain"},
	} {
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestUsersFlag(t *testing.T) {
	u := users{}
	if err := u.Set("alice:pa:ss"); err != nil || u["alice"] != "pa:ss" {
		t.Fatalf("%v %v", u, err)
	}
	if err := u.Set(":x"); err == nil {
		t.Fatal("empty name accepted")
	}
}
