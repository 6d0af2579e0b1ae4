package lean

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ports of the tier, all on 127.0.0.1; DESKPHONE_LEAN_PORTS moves them
// all (setPorts), so that two runs on one host do not meet.
var (
	pbxPort      uint16 = 28000
	phonedSIP    uint16 = 28060 // the phoned under test; the baseline's ports are these + baseOffset
	phonedMedia  uint16 = 28100 // .. +99
	phonedAPI    uint16 = 28080
	baresipSIP   uint16 = 28260
	baresipMedia uint16 = 28300 // .. +99
	baresipCtrl         = "127.0.0.1:28444"
)

const baseOffset = 500

// setPorts moves every port of the tier up by off.
func setPorts(off uint16) {
	for _, p := range []*uint16{&pbxPort, &phonedSIP, &phonedMedia, &phonedAPI, &baresipSIP, &baresipMedia} {
		*p += off
	}
	baresipCtrl = fmt.Sprintf("127.0.0.1:%d", 28444+int(off))
}

// maxCalls bounds DESKPHONE_LEAN_CALLS: phoned's default calls.max_calls.
const maxCalls = 4

// phone is one of the two phones under test.
type phone interface {
	name() string
	pid() int
	sipPort() uint16
	mediaPorts() (lo, hi uint16)
	// call dials the PBX's service and returns once the call is
	// established with media flowing; a call already up is held first
	// (DESKPHONE_LEAN_CALLS).
	call(ctx context.Context, service string) error
	// hangup ends every call and returns once the phone is idle again.
	hangup(ctx context.Context) error
}

// startProc runs a program until the test ends; its output goes to dir.
// env, when not nil, is added to the test's environment.
func startProc(t *testing.T, ctx context.Context, dir string, env []string, name, path string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// baresip reads commands from stdin when it is a terminal; give it none.
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("%s log (tail):\n%s", name, b)
			}
		}
	})
	return cmd
}

func poll(ctx context.Context, d, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(every)
	}
	return true
}

// phoned is the project's phone, driven through its local API.
type phoned struct {
	cmd   *exec.Cmd
	label string
	off   uint16 // port offset: 0, or baseOffset for the baseline
	api   string
}

// startPhoned starts phoned from bin as user (2001, or 2003 for the
// baseline, whose ports are off higher).
func startPhoned(t *testing.T, ctx context.Context, dir, bin, label, user string, off uint16, env []string, expires time.Duration) *phoned {
	p := &phoned{label: label, off: off, api: fmt.Sprintf("127.0.0.1:%d", int(phonedAPI)+int(off))}
	cfg := fmt.Sprintf(`accounts:
  - user: "%[7]s"
    password: "pw%[7]s"
    domain: 127.0.0.1
    registrar: 127.0.0.1:%[1]d
    expires: %[8]d
ports:
  sip: {min: %[2]d, max: %[3]d}
  media: {min: %[4]d, max: %[5]d}
nat:
  strategies: []
  upnp: false
audio:
  input: "tone:440"
api:
  listen: %[6]s
log:
  level: info
`, pbxPort, phonedSIP+off, phonedSIP+off+1, phonedMedia+off, phonedMedia+off+99, p.api, user, int(expires/time.Second))
	path := filepath.Join(dir, label+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = startProc(t, ctx, dir, env, label, filepath.Join(bin, "phoned"), "-config", path)
	if !poll(ctx, 20*time.Second, 100*time.Millisecond, func() bool { return p.status().Registration.State == "registered" }) {
		t.Fatalf("%s did not register: %+v", label, p.status())
	}
	return p
}

func (p *phoned) name() string                 { return p.label }
func (p *phoned) pid() int                     { return p.cmd.Process.Pid }
func (p *phoned) sipPort() uint16              { return phonedSIP + p.off }
func (p *phoned) mediaPorts() (uint16, uint16) { return phonedMedia + p.off, phonedMedia + p.off + 99 }

type phonedStatus struct {
	Phone struct {
		State string `json:"state"`
	} `json:"phone"`
	Registration struct {
		State string `json:"state"`
	} `json:"registration"`
	Calls []struct {
		ID    string `json:"id"`
		State string `json:"state"`
		RTP   struct {
			Sent     uint64 `json:"sent"`
			Received uint64 `json:"received"`
		} `json:"rtp"`
	} `json:"calls"`
}

var client = &http.Client{Timeout: 2 * time.Second}

func (p *phoned) status() phonedStatus {
	var s phonedStatus
	res, err := client.Get("http://" + p.api + "/api/status")
	if err != nil {
		return s
	}
	defer res.Body.Close()
	json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&s)
	return s
}

func (p *phoned) post(path, body string) error {
	res, err := client.Post("http://"+p.api+path, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("POST %s: %s %s", path, res.Status, bytes.TrimSpace(b))
	}
	return nil
}

func (p *phoned) call(ctx context.Context, service string) error {
	k := len(p.status().Calls) // up already: the new call holds the active one
	if err := p.post("/api/call", fmt.Sprintf(`{"to":%q}`, service)); err != nil {
		return err
	}
	// Polled every 50 ms until the call is up only: the API costs the
	// phone CPU, so nothing polls it during the call itself.
	if !poll(ctx, 10*time.Second, 50*time.Millisecond, func() bool {
		s := p.status()
		// The phone's own state too: it takes the next call only once
		// it has seen this one answered (409 busy before).
		return len(s.Calls) == k+1 && s.Calls[k].State == "talking" && s.Calls[k].RTP.Received > 0 &&
			s.Phone.State == "talking"
	}) {
		return fmt.Errorf("phoned: no call with audio: %+v", p.status())
	}
	return nil
}

func (p *phoned) hangup(ctx context.Context) error {
	for _, c := range p.status().Calls {
		if err := p.post("/api/hangup", fmt.Sprintf(`{"call_id":%q}`, c.ID)); err != nil {
			return err
		}
	}
	if !poll(ctx, 5*time.Second, 50*time.Millisecond, func() bool { return p.status().Phone.State == "idle" }) {
		return fmt.Errorf("phoned: not idle after hangup: %+v", p.status())
	}
	return nil
}

// baresipConfig is baresip 1.0 as Debian ships it, made comparable to
// the phoned above: G.711 only, a sine source (ausine: 48 kHz stereo,
// resampled to the codec), no sound card (an unconnected aubridge
// player), no NAT modules, ctrl_tcp for commands and events.
const baresipConfig = `poll_method		epoll
sip_listen		127.0.0.1:%[1]d
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aubridge.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		%[2]s
audio_source		ausine,440
audio_player		aubridge,play
audio_alert		aubridge,alert
ausrc_srate		48000
ausrc_channels		2
rtp_ports		%[3]d-%[4]d
`

// baresip is the reference phone, driven through ctrl_tcp.
type baresip struct {
	cmd  *exec.Cmd
	conn net.Conn

	calls int // calls up (call and hangup only)

	mu      sync.Mutex // guards following
	events  []string
	resps   map[string]string
	changed chan struct{}
	token   int
}

func startBaresip(t *testing.T, ctx context.Context, dir, prog string, expires time.Duration) *baresip {
	bdir := filepath.Join(dir, "baresip")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(baresipConfig, baresipSIP, baresipCtrl, baresipMedia, baresipMedia+99)
	if err := os.WriteFile(filepath.Join(bdir, "config"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	acct := fmt.Sprintf("<sip:2002@127.0.0.1:%d>;auth_pass=pw2002;regint=%d;answermode=manual\n", pbxPort, int(expires/time.Second))
	if err := os.WriteFile(filepath.Join(bdir, "accounts"), []byte(acct), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &baresip{resps: map[string]string{}, changed: make(chan struct{})}
	b.cmd = startProc(t, ctx, dir, nil, "baresip", prog, "-f", bdir)
	if !poll(ctx, 10*time.Second, 100*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", baresipCtrl, time.Second)
		if err != nil {
			return false
		}
		b.conn = c
		return true
	}) {
		t.Fatal("baresip: ctrl_tcp not reachable")
	}
	t.Cleanup(func() { b.conn.Close() })
	go b.read()
	if !poll(ctx, 10*time.Second, 100*time.Millisecond, func() bool {
		out, err := b.command("reginfo", "")
		return err == nil && strings.Contains(out, "OK")
	}) {
		t.Fatal("baresip did not register")
	}
	return b
}

func (b *baresip) name() string                 { return "baresip" }
func (b *baresip) pid() int                     { return b.cmd.Process.Pid }
func (b *baresip) sipPort() uint16              { return baresipSIP }
func (b *baresip) mediaPorts() (uint16, uint16) { return baresipMedia, baresipMedia + 99 }

func (b *baresip) read() {
	r := bufio.NewReader(b.conn)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			return
		}
		var m struct {
			Event    bool   `json:"event"`
			Response bool   `json:"response"`
			OK       bool   `json:"ok"`
			Data     string `json:"data"`
			Token    string `json:"token"`
			Type     string `json:"type"`
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		b.mu.Lock()
		switch {
		case m.Event:
			b.events = append(b.events, m.Type)
		case m.Response:
			if !m.OK {
				m.Data = "ERR: " + m.Data
			}
			b.resps[m.Token] = m.Data
		}
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
	}
}

func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring without trailing comma")
	}
	return buf[:n], nil
}

func (b *baresip) command(cmd, params string) (string, error) {
	b.mu.Lock()
	b.token++
	tok := strconv.Itoa(b.token)
	b.mu.Unlock()
	req, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": tok})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(req), req); err != nil {
		return "", err
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		data, ok := b.resps[tok]
		ch := b.changed
		b.mu.Unlock()
		if ok {
			if strings.HasPrefix(data, "ERR: ") {
				return data, fmt.Errorf("baresip %s: %s", cmd, data)
			}
			return data, nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return "", fmt.Errorf("baresip %s: no response in 5 s", cmd)
		}
	}
}

// waitEvent waits for an event of type typ after the first skip events.
func (b *baresip) waitEvent(d time.Duration, skip int, typ string) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		for _, e := range b.events[min(skip, len(b.events)):] {
			if e == typ {
				b.mu.Unlock()
				return true
			}
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

func (b *baresip) nevents() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

func (b *baresip) call(ctx context.Context, service string) error {
	if b.calls > 0 {
		// A desk phone holds the active call for a new one; baresip
		// would keep both talking.
		n := b.nevents()
		if _, err := b.command("hold", ""); err != nil {
			return err
		}
		// baresip 1.0 has no event for its own hold: the answer to
		// the re-INVITE (sendonly) is a CALL_REMOTE_SDP.
		if !b.waitEvent(5*time.Second, n, "CALL_REMOTE_SDP") {
			return errors.New("baresip: the active call was not held")
		}
	}
	n := b.nevents()
	if _, err := b.command("dial", fmt.Sprintf("sip:%s@127.0.0.1:%d", service, pbxPort)); err != nil {
		return err
	}
	if !b.waitEvent(10*time.Second, n, "CALL_ESTABLISHED") {
		return errors.New("baresip: call not established")
	}
	b.calls++
	return nil
}

func (b *baresip) hangup(ctx context.Context) error {
	for b.calls > 0 {
		n := b.nevents()
		if _, err := b.command("hangup", ""); err != nil {
			return err
		}
		if !b.waitEvent(5*time.Second, n, "CALL_CLOSED") {
			return errors.New("baresip: no CALL_CLOSED after hangup")
		}
		b.calls--
	}
	return nil
}
