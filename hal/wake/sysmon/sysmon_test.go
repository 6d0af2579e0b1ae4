package sysmon

import (
	"errors"
	"testing"
	"time"
)

func TestSetIdleSleepBounds(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0, time.Millisecond, 999 * time.Millisecond, 25 * time.Hour} {
		if _, err := SetIdleSleep(d); err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("SetIdleSleep(%v): err %v, want a bounds error", d, err)
		}
	}
	if got := IdleSleep(); got != RuntimeDefault {
		t.Fatalf("IdleSleep after refused changes = %v, want %v", got, RuntimeDefault)
	}
}

func TestSetIdleSleep(t *testing.T) {
	prev, err := SetIdleSleep(10 * time.Minute)
	if !Available() {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("without the tag: err %v, want ErrUnavailable", err)
		}
		if got := IdleSleep(); got != RuntimeDefault {
			t.Fatalf("without the tag: IdleSleep = %v, want %v", got, RuntimeDefault)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = SetIdleSleep(prev) })
	if prev != RuntimeDefault {
		t.Errorf("previous sleep %v, want the runtime's %v", prev, RuntimeDefault)
	}
	if got := IdleSleep(); got != 10*time.Minute {
		t.Errorf("IdleSleep = %v, want 10m", got)
	}
	back, err := SetIdleSleep(prev)
	if err != nil || back != 10*time.Minute {
		t.Errorf("restore: %v, %v; want 10m, nil", back, err)
	}
}
