package msgsummary

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MediaType is the Content-Type of a message-summary body (RFC 3842 §5).
const MediaType = "application/simple-message-summary"

// Limits on what Parse accepts.
const (
	// MaxSize is the largest body Parse reads. A summary is a few
	// lines; the optional message headers may add a few more.
	MaxSize = 16 << 10
	// MaxCount is the largest message count accepted. A mailbox holding
	// more is a broken or hostile server, not a user to alert.
	MaxCount = 100000
)

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("msgsummary: bad message summary")

// Class is a message context class (RFC 3458 §4.2, RFC 3842 §5.1).
type Class string

// The message context classes of RFC 3458, as RFC 3842 names them.
const (
	Voice      Class = "voice-message"
	Fax        Class = "fax-message"
	Pager      Class = "pager-message"
	Multimedia Class = "multimedia-message"
	Text       Class = "text-message"
	None       Class = "none"
)

// classes lists the known classes in the order Marshal writes them.
var classes = []Class{Voice, Fax, Pager, Multimedia, Text, None}

// Counts are the message counts of one class.
type Counts struct {
	New, Old             int
	NewUrgent, OldUrgent int
}

// Summary is a parsed message-summary body.
type Summary struct {
	// Waiting is the Messages-Waiting status.
	Waiting bool
	// Account is the Message-Account URI, empty when absent.
	Account string
	// Classes holds the counts of each class that had a summary line.
	Classes map[Class]Counts
}

// Voice returns the voice-message counts (zero when absent).
func (s *Summary) Voice() Counts { return s.Classes[Voice] }

// Parse reads a message-summary body. Lines may end in CRLF or LF.
func Parse(body []byte) (*Summary, error) {
	if len(body) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrSyntax, len(body), MaxSize)
	}
	s := &Summary{Classes: map[Class]Counts{}}
	haveStatus, haveAccount := false, false
	for n, line := range bytes.Split(body, []byte("\n")) {
		l := strings.TrimRight(string(line), "\r")
		if strings.TrimSpace(l) == "" {
			if haveStatus {
				break // the optional message headers follow (§5.1)
			}
			continue // leading blank lines: lenient
		}
		if l[0] == ' ' || l[0] == '\t' {
			// A folded continuation: only extension headers may fold.
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: no colon", ErrSyntax, n+1)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		switch name {
		case "messages-waiting":
			if haveStatus {
				return nil, fmt.Errorf("%w: line %d: Messages-Waiting repeated", ErrSyntax, n+1)
			}
			switch strings.ToLower(value) {
			case "yes":
				s.Waiting = true
			case "no":
			default:
				return nil, fmt.Errorf("%w: line %d: Messages-Waiting %q (want yes or no)", ErrSyntax, n+1, value)
			}
			haveStatus = true
			continue
		case "message-account":
			if haveAccount {
				return nil, fmt.Errorf("%w: line %d: Message-Account repeated", ErrSyntax, n+1)
			}
			if value == "" {
				return nil, fmt.Errorf("%w: line %d: empty Message-Account", ErrSyntax, n+1)
			}
			s.Account, haveAccount = value, true
			continue
		}
		c, known := knownClass(name)
		if !known {
			continue // an extension header (§5.1)
		}
		if _, dup := s.Classes[c]; dup {
			return nil, fmt.Errorf("%w: line %d: %s repeated", ErrSyntax, n+1, c)
		}
		counts, err := parseCounts(value)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %s: %w", ErrSyntax, n+1, c, err)
		}
		s.Classes[c] = counts
	}
	if !haveStatus {
		return nil, fmt.Errorf("%w: no Messages-Waiting line", ErrSyntax)
	}
	return s, nil
}

func knownClass(name string) (Class, bool) {
	for _, c := range classes {
		if string(c) == name {
			return c, true
		}
	}
	return "", false
}

// parseCounts reads "new/old" or "new/old (newurgent/oldurgent)".
func parseCounts(v string) (Counts, error) {
	var c Counts
	main, urgent, hasUrgent := strings.Cut(v, "(")
	var err error
	if c.New, c.Old, err = pair(main); err != nil {
		return c, err
	}
	if hasUrgent {
		inner, rest, ok := strings.Cut(urgent, ")")
		if !ok || strings.TrimSpace(rest) != "" {
			return c, errors.New("unbalanced parenthesis")
		}
		if c.NewUrgent, c.OldUrgent, err = pair(inner); err != nil {
			return c, fmt.Errorf("urgent: %w", err)
		}
		if c.NewUrgent > c.New || c.OldUrgent > c.Old {
			return c, errors.New("more urgent messages than messages")
		}
	}
	return c, nil
}

func pair(v string) (int, int, error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not new/old", strings.TrimSpace(v))
	}
	x, err := count(a)
	if err != nil {
		return 0, 0, err
	}
	y, err := count(b)
	if err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

// count reads 1*DIGIT no larger than MaxCount.
func count(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 7 {
		return 0, fmt.Errorf("count %q", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("count %q", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", s, err)
	}
	if n > MaxCount {
		return 0, fmt.Errorf("count %d above %d", n, MaxCount)
	}
	return n, nil
}

// Marshal writes s as a message-summary body with CRLF line ends. Counts
// above MaxCount or below zero are clamped, so the output always parses.
func (s *Summary) Marshal() []byte {
	var b bytes.Buffer
	if s.Waiting {
		b.WriteString("Messages-Waiting: yes\r\n")
	} else {
		b.WriteString("Messages-Waiting: no\r\n")
	}
	if a := strings.TrimSpace(s.Account); a != "" && !strings.ContainsAny(a, "\r\n") {
		b.WriteString("Message-Account: " + a + "\r\n")
	}
	for _, c := range classes {
		n, ok := s.Classes[c]
		if !ok {
			continue
		}
		cl := func(v int) int { return min(max(v, 0), MaxCount) }
		nw, od := cl(n.New), cl(n.Old)
		fmt.Fprintf(&b, "%s: %d/%d", headerName(c), nw, od)
		if n.NewUrgent != 0 || n.OldUrgent != 0 {
			fmt.Fprintf(&b, " (%d/%d)", min(cl(n.NewUrgent), nw), min(cl(n.OldUrgent), od))
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// headerName is a class as a header name: "Voice-Message".
func headerName(c Class) string {
	parts := strings.Split(string(c), "-")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "-")
}
