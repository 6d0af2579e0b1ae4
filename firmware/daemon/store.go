package daemon

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/history"
	"github.com/deskphone/phone/firmware/phonebook"
)

// store is the phone's call history and phonebook (issue 13), kept on
// the data partition as the config says (history.file, history.size,
// phonebook.file). The phone writes the history (phone.Config.History)
// and names callers from the phonebook (phone.Config.Directory); the
// API reads and edits both through actions.
type store struct {
	history   *history.History
	phonebook *phonebook.Phonebook
}

// openStore opens the history and the phonebook. A corrupt history file
// (moved aside) or a phonebook file with problems is logged and the phone
// goes on with an empty history or phonebook: a damaged file on the data
// partition must not keep the phone from making calls. Only a file that
// cannot be read at all (permissions, I/O) is an error.
func openStore(cfg *config.Config, log *slog.Logger) (*store, error) {
	h, err := history.Open(history.Config{Path: cfg.History.File, Max: cfg.History.Size, Logger: log})
	switch {
	case errors.Is(err, history.ErrCorrupt):
		log.Error("call history unreadable; starting an empty one", "err", err)
	case err != nil:
		return nil, fmt.Errorf("daemon: history.file: %w", err)
	}
	if cfg.History.File == "" {
		log.Info("history.file is not set: the call history is kept in memory only")
	}
	pb, err := phonebook.Open(phonebook.Config{Path: cfg.Phonebook.File, Logger: log})
	switch {
	case pb == nil:
		_ = h.Close()
		return nil, fmt.Errorf("daemon: phonebook.file: %w", err)
	case err != nil:
		log.Error("phonebook has problems; running without it until they are fixed", "err", err)
	}
	return &store{history: h, phonebook: pb}, nil
}

// openStore sets d.store. Call it in New before the phone is built, whose
// Config takes History: d.store.history, Directory: d.store.phonebook.
func (d *Daemon) openStore() (err error) {
	d.store, err = openStore(d.cfg, d.log)
	return err
}

// closeStore saves what the history has not saved yet. It is safe when
// the store was never opened, and idempotent.
func (d *Daemon) closeStore() {
	if d.store == nil {
		return
	}
	if err := d.store.history.Close(); err != nil {
		d.log.Warn("saving the call history at exit", "err", err)
	}
}
