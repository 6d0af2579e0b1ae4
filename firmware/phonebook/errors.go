package phonebook

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrInvalid: a file or an entry holds a value that is not allowed.
	ErrInvalid = errors.New("phonebook: invalid")
	// ErrNotFound: no entry has the id.
	ErrNotFound = errors.New("phonebook: no such entry")
	// ErrConflict: the id or speed-dial digit is another entry's.
	ErrConflict = errors.New("phonebook: conflict")
	// ErrReadOnly: the phonebook cannot be edited (no file is configured,
	// or the file has problems that must be fixed by hand first).
	ErrReadOnly = errors.New("phonebook: read-only")
)

// FieldError is one problem: "file:line: field: problem", with File and
// Line left out when unknown (an entry from the API).
type FieldError struct {
	File    string
	Line    int
	Field   string // e.g. "entries[2].speed_dial"
	Problem string
	Err     error // ErrInvalid or ErrConflict
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line) + ":")
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }
