package natlab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// PhonedOptions configure one phoned in a site.
type PhonedOptions struct {
	// Binary is the phoned executable (bin/phoned).
	Binary string
	// User is the account; the password is SIPPassword.
	User string
	// Registrar is the Kamailio address (KamailioPlain or KamailioNAT; a
	// bare IPv6 address on the IPv6-only segment).
	Registrar string
	// ToneHz is the tone the phone sends.
	ToneHz int
	// NAT is the config's nat section, in YAML, indented by two spaces;
	// empty leaves the defaults.
	NAT string
	// User2 and Registrar2, when set, are a second account: the phone's
	// line 1, registered at its own Kamailio (another domain).
	User2, Registrar2 string
	// SRTP, when set, is the first account's srtp policy (off, optional,
	// required), with srtp_over_insecure: the lab signals over UDP.
	SRTP string
	// SRTPKeying, when set, is the first account's srtp_keying (sdes,
	// dtls, both).
	SRTPKeying string
	// SRTPSuites, when set, is the first account's srtp_suites
	// ("[AES_CM_128_HMAC_SHA1_32]").
	SRTPSuites string
	// Codecs, when set, is the codecs list ("[G722, PCMU]"); SampleRate,
	// when set, is audio.sample_rate.
	Codecs     string
	SampleRate int
}

// audioYAML is what PhonedOptions add to the top level: codecs and the
// audio section's sample rate.
func audioYAML(o PhonedOptions) (top, audio string) {
	if o.Codecs != "" {
		top = "codecs: " + o.Codecs + "\n"
	}
	if o.SampleRate != 0 {
		audio = fmt.Sprintf("  sample_rate: %d\n", o.SampleRate)
	}
	return top, audio
}

// line2 is the accounts entry of the second line, or "".
func line2(o PhonedOptions) string {
	if o.User2 == "" {
		return ""
	}
	return fmt.Sprintf("  - user: \"%s\"\n    password: \"%s\"\n    domain: \"%s\"\n    registrar: \"%s:5060\"\n    expires: 60s\n",
		o.User2, SIPPassword, o.Registrar2, o.Registrar2)
}

// srtpYAML is the first account's srtp keys, or "".
func srtpYAML(o PhonedOptions) string {
	if o.SRTP == "" {
		return ""
	}
	s := fmt.Sprintf("    srtp: %s\n    srtp_over_insecure: true\n", o.SRTP)
	if o.SRTPKeying != "" {
		s += "    srtp_keying: " + o.SRTPKeying + "\n"
	}
	if o.SRTPSuites != "" {
		s += "    srtp_suites: " + o.SRTPSuites + "\n"
	}
	return s
}

// Phoned is a running phoned with its local API reached inside its
// namespace.
type Phoned struct {
	Proc *Proc
	// WAV is the recording of everything the phone played.
	WAV  string
	Site *Site
	User string
	// User2 is the second line's account ("" without one).
	User2 string

	client *http.Client
}

// StartPhoned starts phoned on the sim board in the site's phone
// namespace, with audio input tone:ToneHz and output recorded to WAV.
func (s *Site) StartPhoned(name string, o PhonedOptions) (*Phoned, error) {
	dir := s.lab.Dir
	wav := filepath.Join(dir, name+".wav")
	top, audio := audioYAML(o)
	cfg := fmt.Sprintf(`accounts:
  - user: "%[1]s"
    password: "%[2]s"
    domain: "%[3]s"
    registrar: "%[4]s"
    expires: 60s
%[8]s%[7]sports:
  sip: {min: 5060, max: 5069}
  media: {min: 16384, max: 16483}
%[9]saudio:
  input: "tone:%[5]d"
  output: "wav:%[6]s"
%[10]sapi:
  listen: "127.0.0.1:8080"
log:
  level: debug
`, o.User, SIPPassword, o.Registrar, net.JoinHostPort(o.Registrar, "5060"), o.ToneHz, wav, line2(o), srtpYAML(o), top, audio)
	cfg += natSection(o.NAT) // iceforce.go
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	p, err := s.lab.Start(s.Phone, name, nil, o.Binary, "-config", path)
	if err != nil {
		return nil, err
	}
	ph := &Phoned{Proc: p, WAV: wav, Site: s, User: o.User, User2: o.User2, client: &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{DialContext: DialContext(s.Phone), DisableKeepAlives: true},
	}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := ph.Status(); err == nil {
			return ph, nil
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("phoned %s did not serve its API: %s", name, p.Tail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Status is the part of GET /api/status the lab reads.
type Status struct {
	Phone struct {
		State string      `json:"state"`
		Calls []PhoneCall `json:"calls"`
	} `json:"phone"`
	// Lines are the phone's lines (one per account), each with its own
	// registration.
	Lines []struct {
		Line         int `json:"line"`
		Registration struct {
			State string
		} `json:"registration"`
	} `json:"lines"`
	Registration struct {
		State    string
		Code     int
		Reason   string
		Contact  string
		Received string
	} `json:"registration"`
	NAT   *NATReport `json:"nat"`
	Calls []struct {
		ID    string `json:"id"`
		State string `json:"state"`
		RTP   struct {
			Sent     uint64 `json:"sent"`
			Received uint64 `json:"received"`
			Remote   string `json:"remote"`
		} `json:"rtp"`
	} `json:"calls"`
}

// Sent is how many RTP packets the phone has sent in call id (false when
// the call is not listed).
func (s *Status) Sent(id string) (uint64, bool) {
	for _, c := range s.Calls {
		if c.ID == id {
			return c.RTP.Sent, true
		}
	}
	return 0, false
}

// PhoneCall is one call as the phone's state machine lists it.
type PhoneCall struct {
	ID     string `json:"id"`
	Line   int    `json:"line"`
	State  string `json:"state"`
	Remote string `json:"remote"`
	Active bool   `json:"active"`
}

// CallIn returns the first of the phone's calls in state, if any.
func (s *Status) CallIn(state string) (PhoneCall, bool) {
	for _, c := range s.Phone.Calls {
		if c.State == state {
			return c, true
		}
	}
	return PhoneCall{}, false
}

// LinesRegistered holds once n lines report registered.
func LinesRegistered(n int) func(*Status) bool {
	return func(s *Status) bool {
		k := 0
		for _, l := range s.Lines {
			if l.Registration.State == "registered" {
				k++
			}
		}
		return k >= n
	}
}

// NATReport is the part of the port manager's report the lab reads.
type NATReport struct {
	Type          string  `json:"type"`
	ExternalSIP   string  `json:"external_sip"`
	Strategy      string  `json:"strategy"`
	MediaStrategy string  `json:"media_strategy"`
	Lifetime      float64 `json:"binding_lifetime_s"`
	Measured      bool    `json:"binding_lifetime_measured"`
	// LifetimeMethod: "response-port" (RFC 5780 §4.6) or "mapped-address".
	LifetimeMethod string  `json:"binding_lifetime_method"`
	Keepalive      float64 `json:"keepalive_s"`
	ALGSeen        bool    `json:"alg_seen"`
	ALGDetail      string  `json:"alg_detail"`
	Error          string  `json:"error"`
}

// String is a one-line summary.
func (r *NATReport) String() string {
	if r == nil {
		return "no nat report"
	}
	s := fmt.Sprintf("phone sees %s via %s/%s", r.Type, r.Strategy, r.MediaStrategy)
	if r.ALGSeen {
		s += ", alg seen (" + r.ALGDetail + ")"
	}
	if r.Error != "" {
		s += ", error " + r.Error
	}
	return s
}

// Status fetches the phone's status.
func (p *Phoned) Status() (*Status, error) {
	res, err := p.client.Get("http://127.0.0.1:8080/api/status")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var st Status
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Post sends an API action.
func (p *Phoned) Post(path string, body any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	res, err := p.client.Post("http://127.0.0.1:8080"+path, "application/json", r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s: %s: %s", path, res.Status, bytes.TrimSpace(b))
	}
	return nil
}

// WaitFor polls the status until cond holds or d passes, and returns the
// last status.
func (p *Phoned) WaitFor(ctx context.Context, d time.Duration, cond func(*Status) bool) (*Status, bool) {
	deadline := time.Now().Add(d)
	var last *Status
	for {
		if st, err := p.Status(); err == nil {
			last = st
			if cond(st) {
				return st, true
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return last, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Registered reports a registered phone.
func Registered(s *Status) bool { return s.Registration.State == "registered" }

// PhoneState returns a condition on the phone state.
func PhoneState(state string) func(*Status) bool {
	return func(s *Status) bool { return s.Phone.State == state }
}

// ReportSettled holds once the phone's NAT report names a NAT type (the
// port manager finishes its behaviour discovery a few seconds after
// start).
func ReportSettled(s *Status) bool {
	return s.NAT != nil && s.NAT.Type != "" && s.NAT.Type != "unknown"
}
