package web

import (
	"sync"
	"testing"
)

// TestTemplatesParse parses every page: templates are parsed on first
// use now, so this is where a broken one shows.
func TestTemplatesParse(t *testing.T) {
	for _, p := range pageNames {
		if _, err := parsePage(p); err != nil {
			t.Error(err)
		}
	}
}

// TestPageSetParsesOnce: a page is parsed by its first render and kept;
// concurrent first renders share one parse.
func TestPageSetParsesOnce(t *testing.T) {
	var s pageSet
	if len(s.pages) != 0 {
		t.Fatal("parsed before use")
	}
	var wg sync.WaitGroup
	got := make([]any, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tp, err := s.get("status")
			if err != nil {
				t.Error(err)
			}
			got[i] = tp
		}()
	}
	wg.Wait()
	for _, g := range got[1:] {
		if g != got[0] {
			t.Fatal("the page was parsed more than once")
		}
	}
	if len(s.pages) != 1 {
		t.Fatalf("%d pages parsed, want 1", len(s.pages))
	}
	if _, err := s.get("no-such-page"); err == nil {
		t.Fatal("no error for a missing page")
	}
	if len(s.pages) != 1 {
		t.Fatal("a failed parse was kept")
	}
}
