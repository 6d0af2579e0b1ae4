// Package history is the phone's call history: placed, received, missed,
// rejected and forwarded calls, newest first, bounded (Config.Max, 200 by
// default) and kept in a file on the data partition so it survives a
// restart or a power cut.
//
// # The file
//
// A versioned JSON document, newest entry first:
//
//	{
//	  "version": 1,
//	  "next_id": 43,
//	  "entries": [
//	    {"id": 42, "kind": "missed", "line": 0, "remote": "sip:201@pbx",
//	     "name": "Alice", "start": "2026-12-04T08:30:00Z", "duration": 0,
//	     "code": 487, "reason": "Request Terminated"},
//	    ...
//	  ]
//	}
//
// An entry's id is assigned by Add, grows by one per call and is never
// reused, so it names one call across listings and restarts (the API
// redials by id). "duration" is the talk time in seconds, with
// millisecond precision.
//
// # Power cuts and corrupt files
//
// Every save replaces the whole file with firmware/atomicfile (a temporary
// file, fsync, rename, fsync of the directory), so a power cut leaves the
// previous file or the new one, never a torn one. A file that is
// nevertheless unreadable (a failing flash card, a hand edit) is not
// fatal: Open moves it aside to <file>.corrupt, for inspection, and
// returns an empty, working History together with an error wrapping
// ErrCorrupt, which the caller logs. The next call then writes a fresh
// file. A missing file is an empty history, without error.
//
// # Writes off the caller's goroutine
//
// Add (called from the phone's state machine when a call ends) only
// records the entry in memory and wakes the writer: a goroutine that runs
// only while there are unsaved changes, saves the newest state (several
// changes made during one save are written together by the next) and
// exits. The phone's loop therefore never waits for the flash. Sync waits
// until everything added so far is on disk; Close does the same and stops
// saving. A failed save is logged, reported by Sync, and retried by the
// next change.
package history
