package lab

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Outcome of one matrix cell.
type Outcome string

// Outcomes. Fail is a finding about a phone; Skip names a scenario the
// machine cannot run (the detail says why).
const (
	Pass Outcome = "PASS"
	Fail Outcome = "FAIL"
	Skip Outcome = "SKIP"
)

// Row is one line of the results table.
type Row struct {
	Section  string // "registration", "call", ...
	Scenario string // e.g. "symmetric / kamailio-plain"
	Phone    string // "phoned" or "baresip"
	Outcome  Outcome
	Detail   string
	Seconds  float64
	// FirstAudio is the time from answer to media both ways (calls; 0
	// when not measured or never).
	FirstAudio time.Duration
}

// Results collects rows from concurrent tests.
type Results struct {
	mu   sync.Mutex // guards rows
	rows []Row
}

// Add records a row and returns it formatted for the test log.
func (r *Results) Add(row Row) string {
	r.mu.Lock()
	r.rows = append(r.rows, row)
	r.mu.Unlock()
	return fmt.Sprintf("RESULT | %-12s | %-45s | %-7s | %s | %.1fs | %s", row.Section, row.Scenario, row.Phone, row.Outcome, row.Seconds, row.Detail)
}

// Rows returns the rows sorted by section, scenario and phone.
func (r *Results) Rows() []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := append([]Row(nil), r.rows...)
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Section != rows[j].Section {
			return rows[i].Section < rows[j].Section
		}
		return false
	})
	return rows
}

// WriteMarkdown writes the table, one section per heading.
func (r *Results) WriteMarkdown(w io.Writer) {
	section := ""
	for _, row := range r.Rows() {
		if row.Section != section {
			section = row.Section
			fmt.Fprintf(w, "\n### %s\n\n| scenario | phone | result | time | detail |\n|---|---|---|---|---|\n", section)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f s | %s |\n", row.Scenario, row.Phone, row.Outcome, row.Seconds,
			strings.ReplaceAll(row.Detail, "|", "\\|"))
	}
}

// MustPass is the set of scenario keys ("section: scenario: phone")
// whose failure fails the run.
type MustPass map[string]bool

// ParseMustPass reads one key a line; '#' starts a comment.
func ParseMustPass(text string) MustPass {
	m := MustPass{}
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			m[line] = true
		}
	}
	return m
}

// Key is the row's key in a MustPass file.
func (row Row) Key() string { return row.Section + ": " + row.Scenario + ": " + row.Phone }

// Markers around the generated part of docs/nat-matrix.md.
const (
	beginMarker = "<!-- results:begin -->"
	endMarker   = "<!-- results:end -->"
)

// writeMatrix replaces the text between the markers of the file at path
// with table (the file and markers are created when missing).
func writeMatrix(path, table string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	i, j := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if i < 0 || j < i {
		text += "\n" + beginMarker + "\n" + endMarker + "\n"
		i, j = strings.Index(text, beginMarker), strings.Index(text, endMarker)
	}
	text = text[:i+len(beginMarker)] + "\n" + table + "\n" + text[j:]
	return os.WriteFile(path, []byte(text), 0o644)
}
