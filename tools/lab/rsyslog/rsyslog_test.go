package rsyslog

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/syslog"
	"github.com/deskphone/phone/tools/lab/tier"
)

// conf is rsyslogd's whole configuration: both inputs on loopback, one
// line per message with the RFC 5424 fields it parsed, "|" between.
const conf = `global(workDirectory="%[1]s")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="string" string="%%protocol-version%%|%%syslogfacility%%|%%syslogseverity%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|%%structured-data%%|%%timereported:::date-rfc3339%%|%%msg%%\n")
ruleset(name="phone") {
  action(type="omfile" file="%[1]s/out.log" template="fields")
}
input(type="imudp" address="127.0.0.1" port="%[2]d" ruleset="phone")
input(type="imtcp" address="127.0.0.1" port="%[3]d" ruleset="phone")
`

// freePort returns a loopback port free for network now.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestRsyslog(t *testing.T) {
	tier.Require(t, "rsyslog", "test-rsyslog")
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Fatalf("rsyslogd: %v (make test-rsyslog installs Debian's rsyslog)", err)
	}
	dir := t.TempDir()
	udp, tcp := freePort(t, "udp"), freePort(t, "tcp")
	cfg := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, conf, dir, udp, tcp), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-n", "-f", cfg, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", stderr.String())
		}
	})
	waitFor(t, "rsyslogd's TCP input", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcp))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	long := strings.Repeat("0123456789", 300) // 3000 bytes: one TCP frame, beyond a UDP message
	type sent struct{ transport, severity, text string }
	var want []sent
	for _, tr := range []struct {
		name string
		port int
	}{{"udp", udp}, {"tcp", tcp}} {
		h, err := syslog.New(syslog.Config{Server: fmt.Sprintf("127.0.0.1:%d", tr.port), Transport: tr.name,
			Facility: "local4", Hostname: "phone-7", Level: slog.LevelDebug})
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(h).With("component", "sip", "line", 0)
		log.Warn("registration failed", "transport", tr.name, "reason", `wrong password ("403 Forbidden")`)
		want = append(want, sent{tr.name, "4", `msg="registration failed" component=sip line=0 transport=` + tr.name + ` reason="wrong password (\"403 Forbidden\")"`})
		if tr.name == "tcp" {
			log.Info(long)
			want = append(want, sent{tr.name, "6", "msg=" + long + " component=sip line=0"})
		}
		n := uint64(1)
		if tr.name == "tcp" {
			n = 2
		}
		waitFor(t, tr.name+" messages sent", func() bool { return h.Stats().Sent == n })
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	waitFor(t, "rsyslogd's file", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out.log"))
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(lines) >= len(want) && lines[0] != ""
	})
	for _, w := range want {
		found := false
		for _, l := range lines {
			f := strings.SplitN(l, "|", 10)
			if len(f) != 10 {
				t.Errorf("rsyslog line %q", l)
				continue
			}
			if strings.TrimSpace(f[9]) != w.text {
				continue
			}
			found = true
			// local4 is facility 20 (RFC 5424 §6.2.1).
			if f[0] != "1" || f[1] != "20" || f[2] != w.severity || f[3] != "phone-7" || f[4] != "phoned" || f[6] != "-" || f[7] != "-" {
				t.Errorf("%s: rsyslog parsed %q", w.transport, f[:9])
			}
			if _, err := time.Parse(time.RFC3339, f[8]); err != nil {
				t.Errorf("%s: timestamp %q: %v", w.transport, f[8], err)
			}
		}
		if !found {
			t.Errorf("%s: rsyslog did not receive %.80q…; its file:\n%.2000s", w.transport, w.text, strings.Join(lines, "\n"))
		}
	}
}

// waitFor polls cond (a real daemon, real time) for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
