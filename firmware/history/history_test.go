package history

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/phone"
)

var t0 = time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC)

func entry(kind string, i int) phone.HistoryEntry {
	return phone.HistoryEntry{
		Kind: kind, Line: i % 2, Remote: fmt.Sprintf("sip:%d@pbx", 200+i), Name: fmt.Sprintf("Caller %d", i),
		Start: t0.Add(time.Duration(i) * time.Minute), Duration: time.Duration(i) * 1500 * time.Millisecond,
	}
}

func open(t *testing.T, cfg Config) *History {
	t.Helper()
	h, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func ids(es []Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestListNewestFirstFilteredBounded(t *testing.T) {
	h := open(t, Config{Max: 4})
	kinds := []string{"placed", "missed", "received", "missed", "missed", "placed"}
	for i, k := range kinds {
		h.Add(entry(k, i))
	}
	if got, want := ids(h.List("", 0)), []uint64{6, 5, 4, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v, want %v (newest first, the oldest two dropped)", got, want)
	}
	if got, want := ids(h.List("missed", 0)), []uint64{5, 4}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List(missed) = %v, want %v", got, want)
	}
	if got, want := ids(h.List("", 1)), []uint64{6}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List(limit 1) = %v, want %v", got, want)
	}
	if got := h.List("forwarded", 0); len(got) != 0 {
		t.Fatalf("List(forwarded) = %v, want none", got)
	}
	if e, ok := h.Get(5); !ok || e.Kind != "missed" || e.Remote != "sip:204@pbx" {
		t.Fatalf("Get(5) = %+v %v", e, ok)
	}
	if _, ok := h.Get(1); ok {
		t.Fatal("Get(1): a dropped entry is still there")
	}
}

func TestSavedAndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	h := open(t, Config{Path: path})
	for i := range 3 {
		h.Add(entry("received", i))
	}
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	want := h.List("", 0)
	h.Close()

	h2 := open(t, Config{Path: path})
	if got := h2.List("", 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded\n%+v\nwant\n%+v", got, want)
	}
	h2.Add(entry("placed", 9))
	if got := h2.List("", 1)[0].ID; got != 4 {
		t.Fatalf("next id after reload = %d, want 4", got)
	}
	// A smaller Max on the next start keeps the newest.
	h2.Close()
	h3 := open(t, Config{Path: path, Max: 2})
	if got, want := ids(h3.List("", 0)), []uint64{4, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded with Max 2: %v, want %v", got, want)
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	h := open(t, Config{Path: filepath.Join(t.TempDir(), "history.json")})
	if h.Len() != 0 {
		t.Fatal("not empty")
	}
}

// A corrupt file (a torn write would be one, though atomicfile prevents
// it; a failing card or a hand edit can still make one) is moved aside,
// and the phone carries on with an empty history that saves again.
func TestCorruptFileMovedAsideHistoryWorks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.json")
	h := open(t, Config{Path: path})
	for i := range 5 {
		h.Add(entry("placed", i))
	}
	h.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated":       good[:len(good)/2],
		"empty":           {},
		"garbage":         []byte("\x00\x01\x02 not json"),
		"future version":  []byte(`{"version":2,"next_id":1,"entries":[]}`),
		"unknown field":   []byte(`{"version":1,"next_id":1,"entries":[],"extra":1}`),
		"duplicate ids":   []byte(`{"version":1,"next_id":5,"entries":[{"id":3,"kind":"placed","line":0,"remote":"1","start":"2026-12-04T08:30:00Z","duration":0},{"id":3,"kind":"placed","line":0,"remote":"1","start":"2026-12-04T08:30:00Z","duration":0}]}`),
		"id past next_id": []byte(`{"version":1,"next_id":2,"entries":[{"id":7,"kind":"placed","line":0,"remote":"1","start":"2026-12-04T08:30:00Z","duration":0}]}`),
		"two documents":   append(append([]byte{}, good...), good...),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := Open(Config{Path: path})
			if !errors.Is(err, ErrCorrupt) || h == nil {
				t.Fatalf("Open = %v, %v; want a History and ErrCorrupt", h, err)
			}
			defer h.Close()
			if !strings.Contains(err.Error(), ".corrupt") {
				t.Errorf("error %q does not say where the file went", err)
			}
			if kept, _ := os.ReadFile(path + ".corrupt"); string(kept) != string(bad) {
				t.Error("the corrupt file was not kept aside")
			}
			if h.Len() != 0 {
				t.Fatal("a corrupt file gave entries")
			}
			h.Add(entry("missed", 1))
			if err := h.Sync(); err != nil {
				t.Fatal(err)
			}
			h.Close()
			h2 := open(t, Config{Path: path})
			if h2.Len() != 1 {
				t.Fatalf("after recovery: %d entries, want 1", h2.Len())
			}
		})
	}
}

// A power cut during a save leaves atomicfile's temporary file beside the
// old one; the history loads the old one.
func TestLeftoverTempFileIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.json")
	h := open(t, Config{Path: path})
	h.Add(entry("placed", 1))
	h.Close()
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(filepath.Join(dir, ".history.json.tmp-123"), good[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	h2, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.Len() != 1 {
		t.Fatalf("%d entries, want 1", h2.Len())
	}
}

// Add never waits for the disk: while a save is stuck, calls keep being
// added, and the next save writes all of them at once.
func TestAddDoesNotWaitForSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	h := open(t, Config{Path: path})
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	saves := 0
	h.mu.Lock()
	h.saveHook = func() {
		mu.Lock()
		saves++
		first := saves == 1
		mu.Unlock()
		if first {
			close(started)
			<-release
		}
	}
	h.mu.Unlock()
	h.Add(entry("placed", 0))
	<-started
	for i := 1; i <= 5; i++ {
		h.Add(entry("received", i)) // would deadlock here if Add waited
	}
	if h.Len() != 6 {
		t.Fatalf("Len = %d during a save, want 6", h.Len())
	}
	close(release)
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if saves != 2 {
		t.Errorf("%d saves, want 2 (the five made during the first are written together)", saves)
	}
	mu.Unlock()
	h.Close()
	if h2 := open(t, Config{Path: path}); h2.Len() != 6 {
		t.Fatalf("reloaded %d entries, want 6", h2.Len())
	}
}

func TestFailedSaveReportedAndRetried(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	path := filepath.Join(dir, "history.json")
	h := open(t, Config{Path: path})
	h.Add(entry("placed", 0))
	if err := h.Sync(); err == nil {
		t.Fatal("Sync into a missing directory: no error")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(); err != nil {
		t.Fatalf("Sync after the directory appeared: %v", err)
	}
	h.Close()
	if h2 := open(t, Config{Path: path}); h2.Len() != 1 {
		t.Fatalf("reloaded %d entries, want 1", h2.Len())
	}
}

func TestClearSavedIDsNotReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	h := open(t, Config{Path: path})
	h.Add(entry("placed", 0))
	h.Add(entry("placed", 1))
	if err := h.Clear(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h2 := open(t, Config{Path: path})
	if h2.Len() != 0 {
		t.Fatalf("cleared history reloaded with %d entries", h2.Len())
	}
	h2.Add(entry("placed", 2))
	if got := h2.List("", 0)[0].ID; got != 3 {
		t.Fatalf("id after Clear = %d, want 3", got)
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	h, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	h.Add(entry("placed", 0))
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	h.Add(entry("placed", 1)) // kept in memory, not saved
	if h.Len() != 2 {
		t.Fatalf("Len = %d", h.Len())
	}
	if err := h.Clear(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Clear after Close = %v", err)
	}
	if err := h.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v", err)
	}
	if h2 := open(t, Config{Path: path}); h2.Len() != 1 {
		t.Fatalf("on disk: %d entries, want the 1 added before Close", h2.Len())
	}
}

func TestSanitized(t *testing.T) {
	h := open(t, Config{})
	h.Add(phone.HistoryEntry{Remote: strings.Repeat("é", 1000), Name: "bad\xffutf8", Duration: -time.Second, Line: -3, Code: 9999})
	e := h.List("", 0)[0]
	if e.Kind != "unknown" || len(e.Remote) > maxRemote || e.Name != "bad\uFFFDutf8" || e.Duration != 0 || e.Line != 0 || e.Code != 0 {
		t.Fatalf("not sanitized: %+v", e)
	}
}

func TestConfigChecked(t *testing.T) {
	for _, m := range []int{-1, MaxMax + 1} {
		if _, err := Open(Config{Max: m}); err == nil {
			t.Errorf("Max %d accepted", m)
		}
	}
	dir := t.TempDir()
	if _, err := Open(Config{Path: dir}); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("a directory as the file: %v, want a plain error", err)
	}
}

// Many goroutines adding and reading at once (run with -race).
func TestConcurrent(t *testing.T) {
	h := open(t, Config{Path: filepath.Join(t.TempDir(), "history.json"), Max: 50})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				h.Add(entry("placed", g*100+i))
				_ = h.List("placed", 5)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = h.Sync()
		}
	})
	wg.Wait()
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	got := h.List("", 0)
	if len(got) != 50 || got[0].ID != 200 {
		t.Fatalf("%d entries, newest id %d; want 50, 200", len(got), got[0].ID)
	}
}
