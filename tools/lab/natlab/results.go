package natlab

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
	return fmt.Sprintf("RESULT | %-12s | %-45s | %-7s | %s | %.1fs | audio %s | %s", row.Section, row.Scenario, row.Phone, row.Outcome, row.Seconds, row.audio(), row.Detail)
}

// audio formats FirstAudio ("-" when not measured).
func (row Row) audio() string {
	if row.FirstAudio <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f s", row.FirstAudio.Seconds())
}

// Rows returns the rows sorted by section, scenario and phone.
func (r *Results) Rows() []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := append([]Row(nil), r.rows...)
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Section != b.Section {
			return a.Section < b.Section
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.Phone < b.Phone
	})
	return rows
}

// WriteMarkdown writes a summary line, the side-by-side tables (phoned
// and baresip's variants on the same NAT combinations) and then every
// row, one section per heading. took is the run's wall time.
func (r *Results) WriteMarkdown(w io.Writer, took time.Duration) {
	rows := r.Rows()
	count := map[Outcome]int{}
	for _, row := range rows {
		count[row.Outcome]++
	}
	fmt.Fprintf(w, "\nRun: %d cells, %d PASS, %d FAIL, %d SKIP, in %s.\n", len(rows), count[Pass], count[Fail], count[Skip], took.Round(time.Second))
	for _, reg := range []string{"kamailio-plain", "kamailio-nathelper"} {
		r.writeSideBySide(w, rows, reg)
	}
	section := ""
	for _, row := range rows {
		if row.Section != section {
			section = row.Section
			fmt.Fprintf(w, "\n### %s\n\n| scenario | phone | result | first audio | time | detail |\n|---|---|---|---|---|---|\n", section)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f s | %s |\n", row.Scenario, row.Phone, row.Outcome, row.audio(), row.Seconds,
			strings.ReplaceAll(row.Detail, "|", "\\|"))
	}
}

// SideBySideKinds are the NAT kinds of the side-by-side table, and
// SideBySidePhones its columns.
var (
	SideBySideKinds  = []NATKind{FullCone, RestrictedCone, PortRestricted, Symmetric}
	SideBySidePhones = []string{"phoned", "baresip defaults", "baresip stun", "baresip ice", "baresip turn"}
)

// writeSideBySide writes the table of calls behind NAT kind a to NAT kind
// b through registrar reg: one row per ordered combination, one column
// per phone, taken from the "call phoned-phoned" and "call
// baresip-baresip" rows. Nothing is written when the run had none.
func (r *Results) writeSideBySide(w io.Writer, rows []Row, reg string) {
	type key struct{ scenario, phone string }
	cell := map[key]Row{}
	for _, row := range rows {
		if row.Section == "call phoned-phoned" || row.Section == "call baresip-baresip" {
			cell[key{row.Scenario, row.Phone}] = row
		}
	}
	var b strings.Builder
	passes := make([]int, len(SideBySidePhones))
	runs := make([]int, len(SideBySidePhones))
	for _, a := range SideBySideKinds {
		for _, bk := range SideBySideKinds {
			scenario := fmt.Sprintf("%s -> %s / %s", a, bk, reg)
			fmt.Fprintf(&b, "| %s -> %s |", a, bk)
			for i, ph := range SideBySidePhones {
				row, ok := cell[key{scenario, ph}]
				switch {
				case !ok:
					b.WriteString(" - |")
				case row.Outcome == Pass:
					passes[i]++
					runs[i]++
					fmt.Fprintf(&b, " PASS %s |", row.audio())
				default:
					runs[i]++
					fmt.Fprintf(&b, " %s |", row.Outcome)
				}
			}
			b.WriteString("\n")
		}
	}
	total := 0
	for _, n := range runs {
		total += n
	}
	if total == 0 {
		return
	}
	fmt.Fprintf(w, "\n### side by side, %s\n\nCalls from a phone behind the first NAT to the same phone behind the second, through %s; PASS shows the time from answer to media both ways.\n\n| NAT combination |", reg, reg)
	for _, ph := range SideBySidePhones {
		fmt.Fprintf(w, " %s |", ph)
	}
	w.Write([]byte("\n|---|"))
	for range SideBySidePhones {
		w.Write([]byte("---|"))
	}
	w.Write([]byte("\n"))
	io.WriteString(w, b.String())
	w.Write([]byte("| **passed** |"))
	for i := range SideBySidePhones {
		fmt.Fprintf(w, " **%d/%d** |", passes[i], runs[i])
	}
	w.Write([]byte("\n"))
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
