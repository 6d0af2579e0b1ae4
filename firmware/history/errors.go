package history

import "errors"

var (
	// ErrCorrupt: the history file exists but is not a valid history. Open
	// still returns a working (empty) History with it.
	ErrCorrupt = errors.New("history: corrupt file")
	// ErrClosed: Sync or Clear after Close.
	ErrClosed = errors.New("history: closed")
)
