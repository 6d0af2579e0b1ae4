package history_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/deskphone/phone/firmware/history"
	"github.com/deskphone/phone/firmware/phone"
)

func Example() {
	dir, _ := os.MkdirTemp("", "history")
	defer os.RemoveAll(dir)
	h, err := history.Open(history.Config{Path: filepath.Join(dir, "history.json"), Max: 200})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC)
	// The phone adds an entry when a call ends; the save happens on the
	// history's own goroutine.
	h.Add(phone.HistoryEntry{Kind: "placed", Remote: "1002", Start: start, Duration: 90 * time.Second})
	h.Add(phone.HistoryEntry{Kind: "missed", Remote: "sip:201@pbx", Name: "Alice", Start: start.Add(time.Hour), Code: 487})
	for _, e := range h.List("", 0) {
		fmt.Println(e.ID, e.Kind, e.Remote, e.Duration)
	}
	fmt.Println(len(h.List("missed", 0)), "missed")
	if err := h.Close(); err != nil { // waits for the save
		fmt.Println(err)
	}
	// Output:
	// 2 missed sip:201@pbx 0s
	// 1 placed 1002 1m30s
	// 1 missed
}
