//go:build !(linux && cgo && alsa)

package alsa

import (
	"errors"
	"testing"
)

func TestNoCgo(t *testing.T) {
	if _, err := NewOut(nil); !errors.Is(err, ErrNoCgo) {
		t.Errorf("NewOut = %v, want ErrNoCgo", err)
	}
	if _, err := NewIn(nil); !errors.Is(err, ErrNoCgo) {
		t.Errorf("NewIn = %v, want ErrNoCgo", err)
	}
}
