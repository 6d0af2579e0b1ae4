package sip

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/deskphone/phone/voip/codec"
)

// TestOpusMissingWarns: a line that lists OPUS in a build without
// libopus logs exactly one WARN, with the line's own log attributes
// (the daemon's "line"), saying the build has no Opus; a build with Opus,
// or a list without it, logs none.
func TestOpusMissingWarns(t *testing.T) {
	for _, list := range [][]string{{"OPUS", "G722", "PCMU"}, {"G722", "PCMU"}} {
		var buf lockedBuf
		log := slog.New(slog.NewTextHandler(&buf, nil)).With("line", 1)
		ua, err := New(Config{Mapper: &countMapper{}, Codecs: list, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		ua.Close()
		var warns []string
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "codecs lists") {
				warns = append(warns, l)
			}
		}
		want := 0
		if list[0] == "OPUS" && !codec.OpusAvailable {
			want = 1
		}
		if len(warns) != want {
			t.Fatalf("%v (Opus in this build: %v): warnings %q, want %d", list, codec.OpusAvailable, warns, want)
		}
		if want == 1 && (!strings.Contains(warns[0], "line=1") || !strings.Contains(warns[0], "no Opus")) {
			t.Fatalf("warning %q names neither the line nor the missing Opus", warns[0])
		}
	}
}
