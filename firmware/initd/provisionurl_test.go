package initd

import (
	"path/filepath"
	"testing"
)

func TestProvisionURLFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "provision-url")
	if got := ReadProvisionURL(p); got != "" {
		t.Errorf("absent: %q", got)
	}
	if err := WriteProvisionURL(p, "http://10.0.0.1/p"); err != nil {
		t.Fatal(err)
	}
	if got := ReadProvisionURL(p); got != "http://10.0.0.1/p" {
		t.Errorf("got %q", got)
	}
	if err := WriteProvisionURL(p, ""); err != nil {
		t.Fatal(err)
	}
	if got := ReadProvisionURL(p); got != "" {
		t.Errorf("after removal: %q", got)
	}
	if err := WriteProvisionURL(p, ""); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}
