package config

import (
	"bytes"
	"testing"
)

func TestAudioVAD(t *testing.T) {
	if Default().Audio.VAD {
		t.Fatal("audio.vad is on by default")
	}
	c, err := Parse("phone.yaml", []byte("audio:\n  vad: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Audio.VAD {
		t.Fatal("audio.vad: true not read")
	}
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("vad: true")) {
		t.Fatalf("marshalled without vad:\n%s", b)
	}
	back, err := Parse("phone.yaml", b)
	if err != nil || !back.Audio.VAD {
		t.Fatalf("round trip: %v %+v", err, back.Audio)
	}
	if _, err := Parse("phone.yaml", []byte("audio:\n  vad: maybe\n")); err == nil {
		t.Fatal("vad: maybe accepted")
	}
}
