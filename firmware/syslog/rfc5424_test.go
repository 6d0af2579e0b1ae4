package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// message is one parsed RFC 5424 message.
type message struct {
	Fac, Sev                          int
	Time                              string
	Host, App, ProcID, MsgID, SD, Msg string
}

// parse5424 parses SYSLOG-MSG strictly (RFC 5424 §6): the header's
// fields are NILVALUE or printable US-ASCII of their maximum length, the
// timestamp RFC 3339 with at most six fraction digits, SD the NILVALUE
// (Handler writes no structured data).
func parse5424(b []byte) (message, error) {
	var m message
	s := string(b)
	if !strings.HasPrefix(s, "<") {
		return m, errors.New("no PRI")
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return m, errors.New("bad PRI")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 || (len(s[1:end]) > 1 && s[1] == '0') {
		return m, fmt.Errorf("bad PRI %q", s[1:end])
	}
	m.Fac, m.Sev = pri/8, pri%8
	s = s[end+1:]
	if !strings.HasPrefix(s, "1 ") {
		return m, errors.New("VERSION is not 1")
	}
	s = s[2:]
	parts := strings.SplitN(s, " ", 7)
	if len(parts) < 6 {
		return m, errors.New("short header")
	}
	for i, lim := range []int{0, 255, 48, 128, 32} {
		f := parts[i]
		if f == "" {
			return m, fmt.Errorf("empty header field %d", i)
		}
		for j := 0; j < len(f); j++ {
			if f[j] < 33 || f[j] > 126 {
				return m, fmt.Errorf("header field %d: byte %#x", i, f[j])
			}
		}
		if lim > 0 && len(f) > lim {
			return m, fmt.Errorf("header field %d longer than %d", i, lim)
		}
	}
	m.Time, m.Host, m.App, m.ProcID, m.MsgID, m.SD = parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
	if m.Time != "-" {
		t, err := time.Parse(time.RFC3339Nano, m.Time)
		if err != nil {
			return m, fmt.Errorf("TIMESTAMP: %w", err)
		}
		if _, frac, ok := strings.Cut(m.Time, "."); ok && len(strings.TrimRight(frac, "Z+-:0123456789")) == 0 {
			if n := strings.IndexAny(frac, "Z+-"); n > 6 {
				return m, errors.New("TIMESTAMP has more than 6 fraction digits")
			}
		}
		_ = t
	}
	if m.SD != "-" {
		return m, fmt.Errorf("SD %q, want -", m.SD)
	}
	if len(parts) == 7 {
		m.Msg = parts[6]
	}
	return m, nil
}

// readFrame reads one RFC 6587 §3.4.1 octet-counted frame.
func readFrame(r *bufio.Reader) ([]byte, error) {
	n := 0
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' && i > 0 {
			break
		}
		if c < '0' || c > '9' || (i == 0 && c == '0') || i >= 8 {
			return nil, fmt.Errorf("bad MSG-LEN byte %q", c)
		}
		n = n*10 + int(c-'0')
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}
