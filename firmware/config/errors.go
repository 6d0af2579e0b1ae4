package config

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrInvalid means a field holds a value that is not allowed.
	ErrInvalid = errors.New("config: invalid value")
	// ErrUnknownKey means the file holds a key this package does not know.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrSyntax means the file is not well-formed YAML.
	ErrSyntax = errors.New("config: YAML syntax error")
	// ErrTooLarge means the file is larger than MaxFileSize.
	ErrTooLarge = errors.New("config: file too large")
)

// FieldError is one problem found in a configuration. Its message has the
// form "file:line: field: problem"; File, Line and Field are left out of
// the message when they are unknown (a Config built in code has no file).
type FieldError struct {
	// File is the file name as given to Parse or Load.
	File string
	// Line is the 1-based line of the offending key or value; 0 if unknown.
	Line int
	// Field is the path of the field, e.g. "accounts[0].transport".
	Field string
	// Problem says what is wrong, e.g. `"udpx" is not one of udp, tcp, tls`.
	Problem string
	// Err is the sentinel the problem belongs to: ErrInvalid,
	// ErrUnknownKey or ErrSyntax.
	Err error

	cause error // underlying error, e.g. from the YAML parser
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns the sentinel and, when there is one, the underlying cause.
func (e *FieldError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Problems returns every *FieldError inside err, in order. It looks
// through errors joined with errors.Join and wrapped with %w.
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
