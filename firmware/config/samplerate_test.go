package config

import (
	"strings"
	"testing"
)

// TestBoardSampleRates: a board that declares its rates refuses others
// with a file:line problem; one that declares none takes what Validate
// takes.
func TestBoardSampleRates(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("audio:\n  sample_rate: 16000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckBoard(BoardSpec{Name: "wide", SampleRates: []int{8000, 16000}}); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckBoard(BoardSpec{Name: "any"}); err != nil {
		t.Fatal(err)
	}
	err = c.CheckBoard(BoardSpec{Name: "narrow", SampleRates: []int{8000}})
	if ps := Problems(err); len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), "phone.yaml:2: audio.sample_rate: the narrow board's audio runs at [8000] Hz, not 16000") {
		t.Fatalf("narrow board: %v", err)
	}
}
