package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/deskphone/phone/firmware/atomicfile"
	"github.com/deskphone/phone/firmware/phone"
)

// Defaults and bounds.
const (
	// DefaultMax is the number of entries kept when Config.Max is zero.
	DefaultMax = 200
	// MaxMax is the largest Config.Max.
	MaxMax = 10000
	// MaxFileSize is the largest history file Open reads.
	MaxFileSize = 8 << 20
	// Version is the file format's version.
	Version = 1

	maxKind   = 32
	maxRemote = 1024
	maxName   = 256
	maxReason = 256
	maxLine   = 255
)

// Config configures a History.
type Config struct {
	// Path is the history file. Empty keeps the history in memory only
	// (lost on restart).
	Path string
	// Max is the number of entries kept, oldest dropped first; zero
	// means DefaultMax, at most MaxMax.
	Max int
	// Logger receives save failures; nil discards.
	Logger *slog.Logger
}

// Entry is one call in the history: the phone's entry and its id.
type Entry struct {
	// ID names the entry; it grows by one per call and is never reused.
	ID uint64
	phone.HistoryEntry
}

// History is the bounded call history. It is safe for concurrent use and
// implements phone.History.
type History struct {
	path string
	max  int
	log  *slog.Logger

	mu       sync.Mutex // guards following
	cond     *sync.Cond // signalled when writing ends
	entries  []Entry    // oldest first
	nextID   uint64
	gen      uint64 // bumped by every change
	saved    uint64 // the generation on disk
	writing  bool   // the writer goroutine runs
	closed   bool
	lastErr  error  // of the latest save
	saveHook func() // tests: runs at the start of each save, unlocked
}

var _ phone.History = (*History)(nil)

// Open loads the history at cfg.Path (a missing file is an empty
// history). A file that cannot be read as a history is moved to
// <Path>.corrupt and Open returns an empty, working History and an error
// wrapping ErrCorrupt. Any other error (a bad Config, an unreadable
// file) returns a nil History.
func Open(cfg Config) (*History, error) {
	if cfg.Max == 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Max < 1 || cfg.Max > MaxMax {
		return nil, fmt.Errorf("history: Max %d is out of range 1..%d", cfg.Max, MaxMax)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &History{path: cfg.Path, max: cfg.Max, log: log.With("component", "history"), nextID: 1}
	h.cond = sync.NewCond(&h.mu)
	if cfg.Path == "" {
		return h, nil
	}
	data, err := readFile(cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	var f *file
	if err == nil {
		f, err = decode(data)
	}
	if err != nil {
		bad := cfg.Path + ".corrupt"
		if rerr := os.Rename(cfg.Path, bad); rerr != nil {
			return h, fmt.Errorf("%w (and it could not be moved aside: %v)", err, rerr)
		}
		return h, fmt.Errorf("%w; moved to %s, starting empty", err, bad)
	}
	h.entries, h.nextID = f.entries, f.nextID
	if over := len(h.entries) - h.max; over > 0 {
		h.entries = slices.Delete(h.entries, 0, over)
	}
	return h, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("history: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, path, MaxFileSize)
	}
	return data, nil
}

// Add records a call that ended and schedules a save; it does not wait
// for the disk. Over-long strings are cut, a negative duration is zero.
func (h *History) Add(e phone.HistoryEntry) {
	e = sanitize(e)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, Entry{ID: h.nextID, HistoryEntry: e})
	h.nextID++
	if over := len(h.entries) - h.max; over > 0 {
		h.entries = slices.Delete(h.entries, 0, over)
	}
	h.changedLocked()
}

// List returns the entries newest first: only those of kind when kind is
// not empty, at most limit when limit is positive.
func (h *History) List(kind string, limit int) []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Entry
	for i := len(h.entries) - 1; i >= 0; i-- {
		if limit > 0 && len(out) == limit {
			break
		}
		if kind == "" || h.entries[i].Kind == kind {
			out = append(out, h.entries[i])
		}
	}
	return out
}

// Get returns the entry with id.
func (h *History) Get(id uint64) (Entry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.entries {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// Len is the number of entries.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// Clear removes every entry and waits until the empty history is saved.
// Ids keep growing: a cleared entry's id is not reused.
func (h *History) Clear() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.entries = nil
	h.changedLocked()
	return h.syncLocked()
}

// Sync saves every change made so far, if the writer has not already,
// waits for it and returns the latest save's error (nil when everything
// is on disk). After a failed save it tries again. After Close it
// returns ErrClosed.
func (h *History) Sync() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	return h.syncLocked()
}

func (h *History) syncLocked() error {
	if h.path == "" {
		return nil
	}
	if h.saved != h.gen && !h.writing {
		h.writing = true
		go h.writer()
	}
	for h.writing {
		h.cond.Wait()
	}
	if h.saved != h.gen {
		return h.lastErr
	}
	return nil
}

// Close saves what is not saved yet and waits for it; changes after
// Close stay in memory and are not saved. It is idempotent and returns
// the final save's error.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		for h.writing {
			h.cond.Wait()
		}
		return nil
	}
	h.closed = true
	return h.syncLocked()
}

// changedLocked marks a change and starts the writer if it is not
// running. It needs h.mu.
func (h *History) changedLocked() {
	h.gen++
	if h.path == "" || h.closed || h.writing {
		return
	}
	h.writing = true
	go h.writer()
}

// writer saves until the file holds the latest generation, then exits.
// Saves are serial: only one writer runs at a time.
func (h *History) writer() {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.cond.Broadcast()
	for h.saved != h.gen {
		gen := h.gen
		data := encodeLocked(h.entries, h.nextID)
		hook := h.saveHook
		h.mu.Unlock()
		if hook != nil {
			hook()
		}
		err := atomicfile.Write(h.path, data, 0o600)
		h.mu.Lock()
		h.lastErr = err
		if err != nil {
			// Retried by the next change, not in a loop against a
			// failing disk.
			h.log.Warn("saving the call history", "file", h.path, "err", err)
			break
		}
		h.saved = gen
	}
	h.writing = false
}

func sanitize(e phone.HistoryEntry) phone.HistoryEntry {
	e.Kind = clip(e.Kind, maxKind)
	if e.Kind == "" {
		e.Kind = "unknown"
	}
	e.Remote = clip(e.Remote, maxRemote)
	e.Name = clip(e.Name, maxName)
	e.Reason = clip(e.Reason, maxReason)
	e.ForwardedTo = clip(e.ForwardedTo, maxRemote)
	if e.Line < 0 || e.Line > maxLine {
		e.Line = 0
	}
	if e.Duration < 0 {
		e.Duration = 0
	}
	if e.Code < 0 || e.Code > 699 {
		e.Code = 0
	}
	e.Start = e.Start.Round(0).Truncate(time.Millisecond)
	return e
}

// clip cuts s to at most n bytes on a rune boundary and makes it valid
// UTF-8.
func clip(s string, n int) string {
	s = string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// The file's JSON shapes.
type fileJSON struct {
	Version int         `json:"version"`
	NextID  uint64      `json:"next_id"`
	Entries []entryJSON `json:"entries"`
}

type entryJSON struct {
	ID          uint64    `json:"id"`
	Kind        string    `json:"kind"`
	Line        int       `json:"line"`
	Remote      string    `json:"remote"`
	Name        string    `json:"name,omitempty"`
	Start       time.Time `json:"start"`
	Duration    float64   `json:"duration"`
	Code        int       `json:"code,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	ForwardedTo string    `json:"forwarded_to,omitempty"`
}

// file is a decoded history: entries oldest first.
type file struct {
	entries []Entry
	nextID  uint64
}

func encodeLocked(entries []Entry, nextID uint64) []byte {
	f := fileJSON{Version: Version, NextID: nextID, Entries: make([]entryJSON, 0, len(entries))}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		f.Entries = append(f.Entries, entryJSON{
			ID: e.ID, Kind: e.Kind, Line: e.Line, Remote: e.Remote, Name: e.Name, Start: e.Start,
			Duration: math.Round(e.Duration.Seconds()*1000) / 1000,
			Code:     e.Code, Reason: e.Reason, ForwardedTo: e.ForwardedTo,
		})
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		// Only unencodable values fail, and an Entry has none.
		panic(fmt.Sprintf("history: encoding: %v", err))
	}
	return append(b, '\n')
}

// decode parses a history file's content. Every problem is an error
// wrapping ErrCorrupt that names the entry.
func decode(data []byte) (*file, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the document", ErrCorrupt)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, f.Version, Version)
	}
	out := &file{nextID: f.NextID, entries: make([]Entry, 0, len(f.Entries))}
	if out.nextID == 0 || out.nextID == math.MaxUint64 {
		return nil, fmt.Errorf("%w: next_id %d is out of range", ErrCorrupt, f.NextID)
	}
	prev := uint64(math.MaxUint64)
	for i := len(f.Entries) - 1; i >= 0; i-- {
		// The file is newest first; ids fall strictly from the top.
		e := f.Entries[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: entries[%d]: %s", ErrCorrupt, i, fmt.Sprintf(format, args...))
		}
		switch {
		case e.ID == 0 || e.ID >= f.NextID:
			return nil, bad("id %d is not below next_id %d", e.ID, f.NextID)
		case prev != math.MaxUint64 && e.ID <= prev:
			return nil, bad("id %d is not above the older entry's %d (newest first, ids unique)", e.ID, prev)
		case e.Kind == "" || len(e.Kind) > maxKind:
			return nil, bad("kind %q is empty or longer than %d bytes", e.Kind, maxKind)
		case e.Line < 0 || e.Line > maxLine:
			return nil, bad("line %d is out of range 0..%d", e.Line, maxLine)
		case len(e.Remote) > maxRemote || len(e.ForwardedTo) > maxRemote || len(e.Name) > maxName || len(e.Reason) > maxReason:
			return nil, bad("a text field is too long")
		case !(e.Duration >= 0 && e.Duration < 1e9):
			return nil, bad("duration %v is out of range", e.Duration)
		case e.Code < 0 || e.Code > 699:
			return nil, bad("code %d is out of range", e.Code)
		}
		prev = e.ID
		out.entries = append(out.entries, Entry{ID: e.ID, HistoryEntry: phone.HistoryEntry{
			Kind: e.Kind, Line: e.Line, Remote: e.Remote, Name: e.Name, Start: e.Start,
			Duration: time.Duration(math.Round(e.Duration*1000)) * time.Millisecond,
			Code:     e.Code, Reason: e.Reason, ForwardedTo: e.ForwardedTo,
		}})
	}
	return out, nil
}
