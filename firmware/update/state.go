package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/deskphone/phone/firmware/atomicfile"
)

// Slot names.
const (
	SlotA = "A"
	SlotB = "B"
)

// Other returns the slot that is not s.
func Other(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// DefaultTrialBoots is how many times a trial slot is booted before the
// phone falls back to the committed slot.
const DefaultTrialBoots = 1

// SlotInfo records what a slot holds.
type SlotInfo struct {
	Version   string `json:"version,omitempty"`
	BuildTime int64  `json:"build_time,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Size      int64  `json:"size,omitempty"`
}

// State is the A/B record, kept on the data (or boot) partition.
type State struct {
	// Committed is the slot known to work ("A" or "B").
	Committed string `json:"committed"`
	// Trial is the slot on trial, or "".
	Trial string `json:"trial,omitempty"`
	// TrialBoots is how many more times Trial may be booted.
	TrialBoots int `json:"trial_boots,omitempty"`
	// Slots holds what each slot contains, by name.
	Slots map[string]SlotInfo `json:"slots,omitempty"`
	// RolledBack names the last trial slot given up on, for reports.
	RolledBack string `json:"rolled_back,omitempty"`
	// Floor is the oldest build the agent installs, even with
	// allow-downgrade: the last committed build (Commit raises or sets
	// it), or an empty Floor after a factory reset (LowerFloor), which
	// lets the owner go back to any signed build. Absent (a record from
	// before floors, or rewritten by an older boot stage) it is the
	// committed slot's build: a lost floor fails closed.
	Floor *Floor `json:"floor,omitempty"`
}

// Floor names a build by version and build time (see Newer).
type Floor struct {
	Version   string `json:"version,omitempty"`
	BuildTime int64  `json:"build_time,omitempty"`
}

// floor returns the version floor for a phone running version/buildTime
// from slot booted, and whether there is one.
func (s *State) floor(booted, version string, buildTime int64) (Floor, bool) {
	if s.Floor != nil {
		return *s.Floor, s.Floor.Version != "" || s.Floor.BuildTime != 0
	}
	if c := s.Slots[s.Committed]; c.Version != "" {
		return Floor{Version: c.Version, BuildTime: c.BuildTime}, true
	}
	if booted == s.Committed && s.Trial != booted {
		// The slot never written by an update: the factory build.
		return Floor{Version: version, BuildTime: buildTime}, true
	}
	return Floor{}, false
}

// LowerFloor removes the version floor (a factory reset does, so the
// owner can install an older signed build); the next Commit sets it
// again. The record is written atomically.
func LowerFloor(path string) error {
	s, err := ReadState(path)
	if err != nil {
		return err
	}
	s.Floor = &Floor{}
	return WriteState(path, s)
}

func validSlot(s string) bool { return s == SlotA || s == SlotB }

// Validate checks the record.
func (s *State) Validate() error {
	if !validSlot(s.Committed) {
		return fmt.Errorf("%w: committed slot %q", ErrBadState, s.Committed)
	}
	if s.Trial != "" && (!validSlot(s.Trial) || s.Trial == s.Committed) {
		return fmt.Errorf("%w: trial slot %q", ErrBadState, s.Trial)
	}
	if s.TrialBoots < 0 {
		return fmt.Errorf("%w: trial boots %d", ErrBadState, s.TrialBoots)
	}
	return nil
}

// ReadState reads the record at path. A missing file is a fresh phone:
// slot A committed, no trial.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Committed: SlotA, Slots: map[string]SlotInfo{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadState, path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Slots == nil {
		s.Slots = map[string]SlotInfo{}
	}
	return &s, nil
}

// WriteState writes the record atomically: whatever happens, path holds
// the old record or the new one.
func WriteState(path string, s *State) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// Boot is the boot-time decision: it returns the slot to boot and whether
// it is a trial boot, and writes the record first (a trial boot uses up
// one of its boots before it starts, so a slot that hangs or crashes the
// kernel cannot be booted forever). An unreadable record boots the
// committed slot of a fresh phone (A) and reports the error.
func Boot(path string) (slot string, trial bool, err error) {
	s, err := ReadState(path)
	if err != nil {
		return SlotA, false, err
	}
	if s.Trial == "" {
		return s.Committed, false, nil
	}
	if s.TrialBoots > 0 {
		s.TrialBoots--
		if err := WriteState(path, s); err != nil {
			// The count cannot be recorded: booting the trial slot could
			// loop; the committed slot is safe.
			return s.Committed, false, err
		}
		return s.Trial, true, nil
	}
	s.RolledBack = s.Trial
	s.Trial = ""
	if err := WriteState(path, s); err != nil {
		return s.Committed, false, err
	}
	return s.Committed, false, nil
}

// Commit records that the booted slot is healthy. On a trial boot it
// becomes the committed slot and its build the version floor; otherwise
// nothing changes.
func Commit(path, booted string) error {
	s, err := ReadState(path)
	if err != nil {
		return err
	}
	if s.Trial != booted {
		return nil
	}
	s.Committed, s.Trial, s.TrialBoots, s.RolledBack = booted, "", 0, ""
	if c := s.Slots[booted]; c.Version != "" {
		s.Floor = &Floor{Version: c.Version, BuildTime: c.BuildTime}
	}
	return WriteState(path, s)
}
