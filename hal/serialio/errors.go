package serialio

import "errors"

var (
	// ErrSyntax is returned for a line that is not a command.
	ErrSyntax = errors.New("serialio: bad command")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("serialio: closed")
)
