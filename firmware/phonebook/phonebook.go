package phonebook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/deskphone/phone/firmware/atomicfile"
	"github.com/deskphone/phone/firmware/phone"
)

// Config configures a Phonebook.
type Config struct {
	// Path is the phonebook file. Empty means an empty phonebook that
	// cannot be edited.
	Path string
	// Logger; nil discards.
	Logger *slog.Logger
}

// Phonebook is the directory. It is safe for concurrent use and
// implements phone.Directory.
type Phonebook struct {
	path string
	log  *slog.Logger

	writeMu sync.Mutex // serialises edits (held across the file write)

	mu       sync.RWMutex // guards following
	entries  []Entry
	byNumber map[string]string // Normalize(number) -> name
	readOnly error             // why edits are refused, nil when they are not
}

var _ phone.Directory = (*Phonebook)(nil)

// Open loads the phonebook at cfg.Path; a missing file is an empty
// phonebook. A file with problems (the errors name file, line and
// field) gives an empty phonebook that refuses edits, so the file is not
// overwritten before someone fixes it, together with the error: the
// phone works without names rather than not at all. Any other error
// (the file cannot be read) returns a nil Phonebook.
func Open(cfg Config) (*Phonebook, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pb := &Phonebook{path: cfg.Path, log: log.With("component", "phonebook"), byNumber: map[string]string{}}
	if cfg.Path == "" {
		pb.readOnly = fmt.Errorf("%w: no phonebook file is configured (phonebook.file)", ErrReadOnly)
		return pb, nil
	}
	f, err := os.Open(cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return pb, nil
	}
	if err != nil {
		return nil, fmt.Errorf("phonebook: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("phonebook: read %s: %w", cfg.Path, err)
	}
	es, err := Parse(cfg.Path, data)
	if err != nil {
		pb.readOnly = fmt.Errorf("%w: %s has problems; fix them by hand first", ErrReadOnly, cfg.Path)
		return pb, err
	}
	pb.set(es)
	return pb, nil
}

// set installs entries and the number index. It takes mu.
func (pb *Phonebook) set(es []Entry) {
	idx := make(map[string]string, len(es))
	for _, e := range es {
		for _, n := range e.Numbers {
			k := Normalize(n.Number)
			if _, dup := idx[k]; !dup && k != "" {
				idx[k] = e.Name
			}
		}
	}
	pb.mu.Lock()
	pb.entries, pb.byNumber = es, idx
	pb.mu.Unlock()
}

// Lookup returns the name of the first entry with number (compared by
// Normalize).
func (pb *Phonebook) Lookup(number string) (string, bool) {
	k := Normalize(number)
	if k == "" {
		return "", false
	}
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	name, ok := pb.byNumber[k]
	return name, ok
}

// SpeedDial returns the first number of the entry whose speed-dial digit
// is key, ready to dial (Dialable).
func (pb *Phonebook) SpeedDial(key rune) (string, bool) {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	for _, e := range pb.entries {
		if e.SpeedDial == string(key) && len(e.Numbers) > 0 {
			return Dialable(e.Numbers[0].Number), true
		}
	}
	return "", false
}

// List returns every entry, in file order.
func (pb *Phonebook) List() []Entry {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	out := make([]Entry, len(pb.entries))
	for i, e := range pb.entries {
		out[i] = e.Clone()
	}
	return out
}

// Get returns the entry with id.
func (pb *Phonebook) Get(id string) (Entry, bool) {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	if i := pb.indexLocked(id); i >= 0 {
		return pb.entries[i].Clone(), true
	}
	return Entry{}, false
}

func (pb *Phonebook) indexLocked(id string) int {
	return slices.IndexFunc(pb.entries, func(e Entry) bool { return e.ID == id })
}

// Add appends e (given an id when it has none) and saves the file. It
// returns the entry as stored.
func (pb *Phonebook) Add(e Entry) (Entry, error) {
	var out Entry
	err := pb.edit(func(es []Entry) ([]Entry, error) {
		e = tidy(e)
		if err := checkEdit(es, e, -1); err != nil {
			return nil, err
		}
		if e.ID == "" {
			e.ID = freeID(es)
		}
		out = e
		return append(es, e), nil
	})
	return out, err
}

// Update replaces the entry with id by e (whose ID, if set, must be id)
// and saves the file.
func (pb *Phonebook) Update(id string, e Entry) (Entry, error) {
	var out Entry
	err := pb.edit(func(es []Entry) ([]Entry, error) {
		i := slices.IndexFunc(es, func(x Entry) bool { return x.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		e = tidy(e)
		if e.ID != "" && e.ID != id {
			return nil, &FieldError{Field: "id", Problem: fmt.Sprintf("%q differs from the entry's id %q (ids cannot change)", e.ID, id), Err: ErrInvalid}
		}
		e.ID = id
		if err := checkEdit(es, e, i); err != nil {
			return nil, err
		}
		es[i], out = e, e
		return es, nil
	})
	return out, err
}

// Delete removes the entry with id and saves the file.
func (pb *Phonebook) Delete(id string) error {
	return pb.edit(func(es []Entry) ([]Entry, error) {
		i := slices.IndexFunc(es, func(x Entry) bool { return x.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return slices.Delete(es, i, i+1), nil
	})
}

// edit applies change to a copy of the entries, checks the result, saves
// it and only then installs it: a refused or failed edit changes nothing.
// Lookups go on during the save.
func (pb *Phonebook) edit(change func([]Entry) ([]Entry, error)) error {
	pb.writeMu.Lock()
	defer pb.writeMu.Unlock()
	pb.mu.RLock()
	ro := pb.readOnly
	es := make([]Entry, len(pb.entries))
	for i, e := range pb.entries {
		es[i] = e.Clone()
	}
	pb.mu.RUnlock()
	if ro != nil {
		return ro
	}
	es, err := change(es)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(pb.path, Marshal(es), 0o600); err != nil {
		return fmt.Errorf("phonebook: saving: %w", err)
	}
	pb.set(es)
	return nil
}

// checkEdit checks e, to be stored at index at of es (-1: appended),
// on its own and against the other entries.
func checkEdit(es []Entry, e Entry, at int) error {
	if ps := checkEntry(e, ""); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = &FieldError{Field: p.field, Problem: p.text, Err: p.err}
		}
		return errors.Join(errs...)
	}
	if at < 0 && len(es) >= MaxEntries {
		return &FieldError{Problem: fmt.Sprintf("the phonebook is full (%d entries)", MaxEntries), Err: ErrConflict}
	}
	for i, o := range es {
		switch {
		case i == at:
		case e.ID != "" && o.ID == e.ID:
			return &FieldError{Field: "id", Problem: fmt.Sprintf("%q is already the id of %s", e.ID, o.Name), Err: ErrConflict}
		case e.SpeedDial != "" && o.SpeedDial == e.SpeedDial:
			return &FieldError{Field: "speed_dial", Problem: fmt.Sprintf("%s is already the speed dial of %s (id %s)", e.SpeedDial, o.Name, o.ID), Err: ErrConflict}
		}
	}
	return nil
}

// tidy trims the blanks a form leaves around values.
func tidy(e Entry) Entry {
	e = e.Clone()
	e.Name = strings.TrimSpace(e.Name)
	e.SpeedDial = strings.TrimSpace(e.SpeedDial)
	for i := range e.Numbers {
		e.Numbers[i].Number = strings.TrimSpace(e.Numbers[i].Number)
		e.Numbers[i].Label = strings.TrimSpace(e.Numbers[i].Label)
	}
	return e
}

// freeID is one more than the largest numeric id.
func freeID(es []Entry) string {
	n := 0
	for _, e := range es {
		if v, err := strconv.Atoi(e.ID); err == nil && v > n {
			n = v
		}
	}
	return strconv.Itoa(n + 1)
}

// Normalize reduces a number or address to what Lookup compares: the
// user part of a SIP, SIPS or tel URI (with or without <> and a display
// name; parameters and headers dropped), without the visual separators
// (space - . ( )) when it is a telephone number, lower-cased otherwise.
// "" means nothing dialable.
func Normalize(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	if isTelephone(s) {
		return Dialable(s)
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// Dialable returns a number as it is dialled: a telephone number without
// its visual separators ("+44 (20) 7946-0000" is "+442079460000"),
// anything else (a user name, a URI) unchanged.
func Dialable(n string) string {
	n = strings.TrimSpace(n)
	if !isTelephone(n) {
		return n
	}
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()", r) {
			return -1
		}
		return r
	}, n)
}

// isTelephone: digits (at least one) with an optional leading '+', '*'
// and '#', and visual separators.
func isTelephone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == '*', r == '#', strings.ContainsRune(" -.()", r):
		default:
			return false
		}
	}
	return digits > 0
}
