package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// baresipConfig is a minimal baresip 1.0 configuration: G.711, the STUN,
// TURN and ICE modules as Debian ships them, no audio device.
const baresipConfig = `poll_method		epoll
sip_listen		%[1]s:5060
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			ausine.so
module			stun.so
module			turn.so
module			ice.so
module_app		account.so
audio_source		ausine,%[2]d
audio_player		aufile,%[3]s
audio_alert		aufile,/dev/null
rtp_ports		16384-16483
`

// Baresip is a running baresip.
type Baresip struct {
	Proc *Proc
	User string
}

// StartBaresip starts baresip in the site's phone namespace, registered
// as user at registrar, with media NAT help medianat ("" none, "stun",
// "turn", "ice") against coturn, auto-answering calls.
func (s *Site) StartBaresip(name, user, registrar, medianat string, hz int) (*Baresip, error) {
	dir := filepath.Join(s.lab.Dir, name+".baresip")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(baresipConfig, s.PhoneIP, hz, filepath.Join(s.lab.Dir, name+".wav"))
	acct := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;answermode=auto", user, registrar, SIPPassword)
	if medianat != "" {
		acct += fmt.Sprintf(";medianat=%s;stunserver=stun:%s:3478;stunuser=%s;stunpass=%s", medianat, STUN1, TURNUser, TURNPassword)
		if medianat == "turn" {
			acct = fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;answermode=auto;medianat=turn;stunserver=turn:%s:3478;stunuser=%s;stunpass=%s",
				user, registrar, SIPPassword, STUN1, TURNUser, TURNPassword)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(acct+"\n"), 0o644); err != nil {
		return nil, err
	}
	p, err := s.lab.Start(s.Phone, name, nil, "baresip", "-f", dir)
	if err != nil {
		return nil, err
	}
	return &Baresip{Proc: p, User: user}, nil
}

var baresipRegOK = regexp.MustCompile(`\{\d+/UDP/v4\} 200 OK`)

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
