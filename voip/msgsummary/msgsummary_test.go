package msgsummary

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRFCExamples(t *testing.T) {
	for _, tc := range []struct {
		file    string
		waiting bool
		account string
		voice   Counts
	}{
		{"rfc3842-5.2-a.txt", true, "sip:alice@vmail.example.com", Counts{New: 2, Old: 8, OldUrgent: 2}},
		{"rfc3842-5.2-b.txt", true, "", Counts{New: 4, Old: 8, NewUrgent: 1, OldUrgent: 2}},
		{"rfc3842-5.2-headers.txt", true, "sip:alice@vmail.example.com", Counts{New: 4, Old: 8, NewUrgent: 1, OldUrgent: 2}},
		{"asterisk-none.txt", false, "sip:*97@pbx.example.com", Counts{Old: 3}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(b)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if s.Waiting != tc.waiting || s.Account != tc.account || s.Voice() != tc.voice {
			t.Errorf("%s: got %+v voice %+v", tc.file, s, s.Voice())
		}
	}
}

func TestParseClassesAndLeniency(t *testing.T) {
	s, err := Parse([]byte("messages-waiting: YES\nX-Vendor: 1\nfax-message: 2/1 (1/0)\nVoice-Message:3/4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Waiting || s.Classes[Fax] != (Counts{New: 2, Old: 1, NewUrgent: 1}) || s.Voice() != (Counts{New: 3, Old: 4}) {
		t.Errorf("got %+v", s)
	}
	if _, ok := s.Classes[Text]; ok {
		t.Error("a class that had no line is present")
	}
}

func TestParseRejects(t *testing.T) {
	for _, body := range []string{
		"",
		"Voice-Message: 1/2\r\n",      // no status
		"Messages-Waiting: maybe\r\n", // bad status
		"Messages-Waiting: yes\r\nMessages-Waiting: no\r\n", // repeated
		"Messages-Waiting: yes\r\nVoice-Message: 1\r\n",     // not new/old
		"Messages-Waiting: yes\r\nVoice-Message: -1/2\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/0)\r\n", // more urgent than new
		"Messages-Waiting: yes\r\nVoice-Message: 1/2 (0/0\r\n",  // unbalanced
		"Messages-Waiting: yes\r\nVoice-Message: 1/2 (0/0) x\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 100001/0\r\n", // absurd
		"Messages-Waiting: yes\r\nVoice-Message: 99999999999999999999/0\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1/2\r\nVoice-Message: 1/2\r\n",
		"Messages-Waiting: yes\r\nMessage-Account:\r\n",
		"Messages-Waiting: yes\r\ngarbage\r\n",
		"Messages-Waiting: yes\r\n" + strings.Repeat("X-Pad: 0123456789012345678901234567890123456789\r\n", 400), // huge
	} {
		if s, err := Parse([]byte(body)); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%.60q) = %+v, %v; want ErrSyntax", body, s, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := &Summary{Waiting: true, Account: "sip:alice@vm.example.com", Classes: map[Class]Counts{
		Voice: {New: 4, Old: 8, NewUrgent: 1, OldUrgent: 2}, Fax: {New: 1},
	}}
	b := in.Marshal()
	if !strings.Contains(string(b), "Voice-Message: 4/8 (1/2)\r\n") {
		t.Errorf("marshalled %q", b)
	}
	out, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Waiting != in.Waiting || out.Account != in.Account || out.Voice() != in.Voice() || out.Classes[Fax] != in.Classes[Fax] {
		t.Errorf("round trip: %+v", out)
	}
}
