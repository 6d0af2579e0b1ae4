package natlab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// baresipConfig is a baresip 1.0 configuration as Debian ships it: G.711
// (offered first) and G.722,
// the STUN, TURN and ICE modules, SRTP (used only by an account with
// mediaenc), a sine source (ausine takes 48 kHz
// stereo, baresip resamples to the codec), no sound card (the player is
// an unconnected aubridge device), the sndfile filter recording what is
// received (Debian's 1.0 aufile is a source only, so it cannot record),
// and the ctrl_tcp module for commands and events.
const baresipConfig = `poll_method		epoll
sip_listen		%[1]s:5060
module_path		/usr/lib/baresip/modules
module			g711.so
module			g722.so
module			ausine.so
module			aubridge.so
module			sndfile.so
module			stun.so
module			turn.so
module			ice.so
module			srtp.so
module			dtls_srtp.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:4444
audio_source		ausine,%[2]d
audio_player		aubridge,play
audio_alert		aubridge,alert
ausrc_srate		48000
ausrc_channels		2
snd_path		%[3]s
rtp_ports		16384-16483
`

// MediaNAT values for BaresipOptions: baresip's own media NAT traversal
// as its modules ship it. "" is the default (none).
var MediaNATs = []string{"", "stun", "ice", "turn"}

// BaresipOptions configure one baresip in a site.
type BaresipOptions struct {
	// User is the account; the password is SIPPassword.
	User string
	// Registrar is the Kamailio address (KamailioPlain or KamailioNAT).
	Registrar string
	// MediaNAT is "" (none), "stun", "ice" (STUN candidates, no TURN) or
	// "turn", all against the lab's coturn.
	MediaNAT string
	// ToneHz is the tone baresip sends.
	ToneHz int
	// MediaEnc is baresip's mediaenc: "" (plain RTP), "srtp" (best
	// effort: RTP/AVP with a=crypto), "srtp-mand" (RTP/SAVP) or
	// "dtls_srtp" (UDP/TLS/RTP/SAVPF, dtls_srtp.so).
	MediaEnc string
	// AnswerMode is baresip's answermode for incoming calls: "auto"
	// (default), "manual" or "early" (183 with SDP and media at once, 200
	// on Accept).
	AnswerMode string
	// Config holds extra configuration lines, appended (e.g. "module
	// opus.so" and its opus_* settings).
	Config string
}

// BaresipEvent is one ctrl_tcp event.
type BaresipEvent struct {
	Type      string `json:"type"`
	Class     string `json:"class"`
	Direction string `json:"direction"`
	PeerURI   string `json:"peeruri"`
	Param     string `json:"param"`
	At        time.Time
}

// Baresip is a running baresip driven through ctrl_tcp.
type Baresip struct {
	Proc *Proc
	User string
	Site *Site
	// RecDir holds the sndfile recordings (dump-*-dec.wav: what baresip
	// received and played).
	RecDir string

	conn    net.Conn
	readerW sync.WaitGroup

	mu      sync.Mutex // guards following
	events  []BaresipEvent
	resps   map[string]string // token -> data ("ERR: ..." when not ok)
	changed chan struct{}     // closed and replaced on every event/response
	token   int
}

// BaresipAccount returns the accounts line for o (exported for the
// report).
func BaresipAccount(o BaresipOptions) string {
	mode := o.AnswerMode
	if mode == "" {
		mode = "auto"
	}
	acct := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;answermode=%s", o.User, o.Registrar, SIPPassword, mode)
	if o.MediaEnc != "" {
		acct += ";mediaenc=" + o.MediaEnc
	}
	switch o.MediaNAT {
	case "stun", "ice":
		acct += fmt.Sprintf(";medianat=%s;stunserver=stun:%s:3478", o.MediaNAT, STUN1)
	case "turn":
		acct += fmt.Sprintf(";medianat=turn;stunserver=turn:%s:3478;stunuser=%s;stunpass=%s", STUN1, TURNUser, TURNPassword)
	}
	return acct
}

// StartBaresip starts baresip in the site's phone namespace and connects
// to its ctrl_tcp port.
func (s *Site) StartBaresip(name string, o BaresipOptions) (*Baresip, error) {
	dir := filepath.Join(s.lab.Dir, name+".baresip")
	rec := filepath.Join(dir, "rec")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		return nil, err
	}
	// sndfile cuts file names at 128 bytes: the recordings go to a path
	// relative to baresip's working directory.
	cfg := fmt.Sprintf(baresipConfig, s.PhoneIP, o.ToneHz, "rec") + o.Config
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(BaresipAccount(o)+"\n"), 0o644); err != nil {
		return nil, err
	}
	p, err := s.lab.StartIn(s.Phone, name, dir, nil, "baresip", "-f", dir)
	if err != nil {
		return nil, err
	}
	b := &Baresip{Proc: p, User: o.User, Site: s, RecDir: rec, resps: map[string]string{}, changed: make(chan struct{})}
	dial := DialContext(s.Phone)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := dial(ctx, "tcp", "127.0.0.1:4444")
		cancel()
		if err == nil {
			b.conn = c
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("baresip %s: ctrl_tcp not reachable: %w: %s", name, err, p.Tail(2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.readerW.Add(1)
	go b.read()
	return b, nil
}

// Close closes the control connection and stops baresip. It is safe to
// call more than once.
func (b *Baresip) Close() {
	b.conn.Close()
	b.Proc.Stop()
	b.readerW.Wait()
}

// read decodes the netstrings ctrl_tcp sends until the connection
// closes.
func (b *Baresip) read() {
	defer b.readerW.Done()
	r := bufio.NewReader(b.conn)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			return
		}
		b.handle(msg)
	}
}

// handle records one ctrl_tcp message: an event or a command response.
func (b *Baresip) handle(msg []byte) {
	var m struct {
		Event    bool   `json:"event"`
		Response bool   `json:"response"`
		OK       bool   `json:"ok"`
		Data     string `json:"data"`
		Token    string `json:"token"`
		BaresipEvent
	}
	if json.Unmarshal(msg, &m) != nil {
		return // not ours to judge: drop
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case m.Event:
		ev := m.BaresipEvent
		ev.At = time.Now()
		b.events = append(b.events, ev)
	case m.Response:
		if !m.OK {
			m.Data = "ERR: " + m.Data
		}
		b.resps[m.Token] = m.Data
	default:
		return
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// maxNetstring bounds one ctrl_tcp message.
const maxNetstring = 1 << 20

// errNetstring reports a malformed netstring.
var errNetstring = errors.New("malformed netstring")

// readNetstring reads one netstring ("<len>:<data>,").
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
	if err != nil || n < 0 || n > maxNetstring {
		return nil, fmt.Errorf("%w: length %q", errNetstring, head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, fmt.Errorf("%w: no trailing comma", errNetstring)
	}
	return buf[:n], nil
}

// netstring encodes b as a netstring.
func netstring(b []byte) []byte {
	return append(append([]byte(strconv.Itoa(len(b))+":"), b...), ',')
}

// Command runs a baresip command (menu's: "dial", "hangup", "accept",
// ...) and waits up to 5 s for its response.
func (b *Baresip) Command(cmd, params string) (string, error) {
	b.mu.Lock()
	b.token++
	tok := strconv.Itoa(b.token)
	b.mu.Unlock()
	req, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": tok})
	if _, err := b.conn.Write(netstring(req)); err != nil {
		return "", fmt.Errorf("baresip %s: %w", cmd, err)
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
				return data, fmt.Errorf("baresip %s %s: %s", cmd, params, data)
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

// Dial calls uri.
func (b *Baresip) Dial(uri string) error {
	_, err := b.Command("dial", uri)
	return err
}

// Hangup ends the current call.
func (b *Baresip) Hangup() error {
	_, err := b.Command("hangup", "")
	return err
}

// Accept answers the current incoming call (200 OK).
func (b *Baresip) Accept() error {
	_, err := b.Command("accept", "")
	return err
}

// WaitEvent waits up to d for an event of one of the types (e.g.
// "CALL_ESTABLISHED") and returns it; it also returns false when baresip
// exits.
func (b *Baresip) WaitEvent(d time.Duration, types ...string) (BaresipEvent, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		for _, ev := range b.events {
			for _, t := range types {
				if ev.Type == t {
					b.mu.Unlock()
					return ev, true
				}
			}
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-b.Proc.done:
			return BaresipEvent{}, false
		case <-deadline.C:
			return BaresipEvent{}, false
		}
	}
}

// WaitEvents waits up to d until n events of type typ were seen; it
// returns false when baresip exits first.
func (b *Baresip) WaitEvents(d time.Duration, n int, typ string) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		k := 0
		for _, ev := range b.events {
			if ev.Type == typ {
				k++
			}
		}
		ch := b.changed
		b.mu.Unlock()
		if k >= n {
			return true
		}
		select {
		case <-ch:
		case <-b.Proc.done:
			return false
		case <-deadline.C:
			return false
		}
	}
}

// LastEvent returns the newest event of type typ and how many of that
// type were seen.
func (b *Baresip) LastEvent(typ string) (BaresipEvent, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var last BaresipEvent
	n := 0
	for _, ev := range b.events {
		if ev.Type == typ {
			last, n = ev, n+1
		}
	}
	return last, n
}

// Transfer asks baresip to transfer its current call to uri (a blind
// transfer: REFER, RFC 3515).
func (b *Baresip) Transfer(uri string) error {
	_, err := b.Command("transfer", uri)
	return err
}

// Events returns the event types seen so far, in order (for reports).
func (b *Baresip) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.events))
	for i, ev := range b.events {
		out[i] = ev.Type
	}
	return out
}

// Recording returns the newest recording of received audio, or "" when
// there is none.
func (b *Baresip) Recording() string {
	m, _ := filepath.Glob(filepath.Join(b.RecDir, "dump-*-dec.wav"))
	if len(m) == 0 {
		return ""
	}
	sort.Strings(m)
	return m[len(m)-1]
}

var baresipRegOK = regexp.MustCompile(`\{\d+/UDP/v[46]\} 200 OK`)

// WaitRegistered waits up to d for baresip to log a 200 OK to its
// REGISTER and returns the matching log line, or the log tail.
func (b *Baresip) WaitRegistered(d time.Duration) (bool, string) {
	deadline := time.Now().Add(d)
	for {
		log, _ := os.ReadFile(b.Proc.Log)
		if m := baresipRegOK.Find(log); m != nil {
			return true, string(m)
		}
		if b.Proc.Exited() || time.Now().After(deadline) {
			return false, b.Proc.Tail(400)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
