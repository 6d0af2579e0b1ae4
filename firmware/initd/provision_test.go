package initd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/config"
)

func TestProvisionFirstBoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deskphone")
	rnd := bytes.NewReader(bytes.Repeat([]byte{0xab}, 64))
	p, err := Provision(dir, "qemu-arm64", rnd)
	if err != nil {
		t.Fatal(err)
	}
	if !p.FirstBoot || p.Token != strings.Repeat("ab", 16) {
		t.Fatalf("first boot %v token %q", p.FirstBoot, p.Token)
	}
	cfg, err := config.Load(p.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := cfg.Primary()
	if !ok || a.Registrar != "10.0.2.2:5060" || cfg.Board != "qemu" || cfg.API.Token != p.Token || cfg.API.Listen != ":8080" {
		t.Fatalf("default config: %+v %+v", a, cfg.API)
	}
	if p.System.TrialDeadline != Duration(DefaultTrialDeadline) || p.System.UpdateListen != ":8081" {
		t.Fatalf("system defaults %+v", p.System)
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %v %v", fi, err)
	}

	// Second boot: nothing is made again, the user's edits survive.
	cfg.Accounts[0].User = "2002"
	if err := config.Save(p.ConfigPath, cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SystemFile), []byte(`{"hostname":"desk","trial_deadline":"90s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p2, err := Provision(dir, "qemu-arm64", bytes.NewReader(bytes.Repeat([]byte{0xcd}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if p2.FirstBoot || p2.Token != p.Token || p2.System.Hostname != "desk" || p2.System.TrialDeadline.String() != "1m30s" {
		t.Fatalf("second boot %+v", p2)
	}
	cfg2, _ := config.Load(p2.ConfigPath)
	if cfg2.Accounts[0].User != "2002" {
		t.Fatal("config overwritten")
	}

	// Factory reset: the next boot is a first boot with a new token.
	if err := FactoryReset(dir); err != nil {
		t.Fatal(err)
	}
	p3, err := Provision(dir, "qemu-arm64", bytes.NewReader(bytes.Repeat([]byte{0xcd}, 64)))
	if err != nil || !p3.FirstBoot || p3.Token == p.Token {
		t.Fatalf("after reset %+v %v", p3, err)
	}
	// A bad system file is an error, with defaults still usable.
	os.WriteFile(filepath.Join(dir, SystemFile), []byte(`{"trial_deadline":"soon"}`), 0o644)
	if _, err := Provision(dir, "qemu-arm64", rnd); err == nil {
		t.Fatal("bad system.json accepted")
	}
}

func TestTokenMatches(t *testing.T) {
	for _, c := range []struct {
		header, token string
		want          bool
	}{
		{"Bearer s3cret", "s3cret", true},
		{"Bearer s3cre", "s3cret", false},
		{"Bearer s3cret2", "s3cret", false},
		{"s3cret", "s3cret", false},
		{"Basic s3cret", "s3cret", false},
		{"Bearer ", "", false},
		{"", "", false},
	} {
		if got := TokenMatches(c.header, c.token); got != c.want {
			t.Errorf("TokenMatches(%q, %q) = %v, want %v", c.header, c.token, got, c.want)
		}
	}
}
