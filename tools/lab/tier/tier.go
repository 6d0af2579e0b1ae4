// Package tier decides whether a slow test tier runs. The slow tiers
// (the network lab, the emulated phone, the Raspberry Pi image, ...) live
// under tools/lab/<tier>/; each has a make target that builds what it
// needs and sets the environment variable DESKPHONE_TIER to the tier's
// name (a comma-separated list may name several). A slow test calls
// Require first: without its tier named it skips with a message naming
// the make target, so a plain `go test ./...` stays fast and says why.
//
// A tier's parameters are environment variables DESKPHONE_<TIER>_<NAME>
// (DESKPHONE_QEMU_IMAGE, DESKPHONE_NATLAB_DIR, ...), read with Param or
// MustParam.
package tier

import (
	"os"
	"strings"
	"testing"
)

// Env names the environment variable listing the tiers to run.
const Env = "DESKPHONE_TIER"

// Enabled reports whether DESKPHONE_TIER names tier.
func Enabled(tier string) bool {
	for _, name := range strings.Split(os.Getenv(Env), ",") {
		if strings.TrimSpace(name) == tier {
			return true
		}
	}
	return false
}

// Require skips t unless DESKPHONE_TIER names tier; the skip message
// names target, the make target that runs the tier.
func Require(t testing.TB, tier, target string) {
	t.Helper()
	if !Enabled(tier) {
		t.Skipf("slow tier %q: run `make %s` (it sets %s=%s)", tier, target, Env, tier)
	}
}

// ParamName is the environment variable of a tier's parameter:
// DESKPHONE_<TIER>_<NAME>, upper case.
func ParamName(tier, name string) string {
	return strings.ToUpper("DESKPHONE_" + tier + "_" + name)
}

// Param returns the tier's parameter name, or "" when it is not set.
func Param(tier, name string) string {
	return os.Getenv(ParamName(tier, name))
}

// MustParam returns the tier's parameter name, failing t when it is not
// set; target names the make target that sets it.
func MustParam(t testing.TB, tier, name, target string) string {
	t.Helper()
	v := Param(tier, name)
	if v == "" {
		t.Fatalf("%s is not set (make %s sets it)", ParamName(tier, name), target)
	}
	return v
}
