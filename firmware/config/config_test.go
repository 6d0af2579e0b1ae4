package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"gopkg.in/yaml.v3"
)

// plain drops the source positions so Configs can be compared.
func plain(c *Config) *Config {
	if c == nil {
		return nil
	}
	cc := *c
	cc.src = nil
	return &cc
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"codecs", c.Codecs, []string{"G722", "PCMU", "PCMA"}},
		{"dtmf", c.DTMF, "rfc4733"},
		{"dtmf_payload_type", c.DTMFPayloadType, 101},
		{"ptime", c.Ptime, 20 * time.Millisecond},
		{"ports.sip", c.Ports.SIP, PortRange{Min: 5060, Max: 5069}},
		{"ports.media", c.Ports.Media, PortRange{Min: 16384, Max: 16483}},
		{"nat.stun_servers", c.NAT.STUNServers, []string(nil)},
		{"nat.strategies", c.NAT.Strategies, []string{"static", "gateway", "stun", "turn"}},
		{"nat.keepalive", c.NAT.Keepalive, 25 * time.Second},
		{"nat.early_udp", c.NAT.EarlyUDP, true},
		{"nat.binding_lifetime", c.NAT.BindingLifetime, time.Duration(0)},
		{"nat.change_check", c.NAT.ChangeCheck, 5 * time.Second},
		{"nat.upnp", c.NAT.UPnP, false}, // on the default board, sim (DefaultUPnP)
		{"audio.input", c.Audio.Input, "silence"},
		{"audio.output", c.Audio.Output, "null"},
		{"audio.sample_rate", c.Audio.SampleRate, 8000},
		{"audio.volume", c.Audio.Volume, 70},
		{"audio.mic_gain", c.Audio.MicGain, 50},
		{"audio.tones", c.Audio.Tones, "us"},
		{"dial_plan.timeout", c.DialPlan.Timeout, 4 * time.Second},
		{"dial_plan.terminator", c.DialPlan.Terminator, "#"},
		{"dial_plan.max_digits", c.DialPlan.MaxDigits, 32},
		{"board", c.Board, "sim"},
		{"api.listen", c.API.Listen, "127.0.0.1:8080"},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"sip.accept_from", c.SIP.AcceptFrom, "proxy"},
		{"sip.allow", c.SIP.Allow, []string(nil)},
		{"sip.ring_timeout", c.SIP.RingTimeout, 60 * time.Second},
		{"memory_limit", c.MemoryLimit, int64(0)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	a := DefaultAccount()
	if a.Transport != "udp" || a.Expires != time.Hour || !a.Enabled {
		t.Errorf("DefaultAccount() = %+v", a)
	}
	// Default returns a fresh value each time.
	c.Codecs[0] = "X"
	if Default().Codecs[0] != "G722" {
		t.Error("Default shares its slices between calls")
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "---\n...\n"} {
		c, err := Parse("phone.yaml", []byte(in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if !reflect.DeepEqual(plain(c), Default()) {
			t.Errorf("Parse(%q) = %+v, want Default()", in, plain(c))
		}
	}
}

func TestParseAccountDefaults(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("accounts:\n  - user: bob\n    domain: example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Account{User: "bob", AuthUser: "bob", Domain: "example.com", Registrar: "example.com",
		Transport: "udp", Expires: time.Hour, Enabled: true, DNDCode: 486, ForwardNoAnswerAfter: 20 * time.Second, SRTP: "off"}
	if len(c.Accounts) != 1 || !reflect.DeepEqual(c.Accounts[0], want) {
		t.Fatalf("accounts = %+v, want [%+v]", c.Accounts, want)
	}
	if p, ok := c.Primary(); !ok || p.User != "bob" {
		t.Errorf("Primary() = %+v, %v", p, ok)
	}
}

func TestParseValues(t *testing.T) {
	in := `accounts:
  - user: 1001
    domain: EXAMPLE.com
    transport: TCP
    expires: 90
    enabled: no
  - user: carol
    domain: example.com
codecs: [pcma]
ptime: 30ms
nat:
  keepalive: 10
  binding_lifetime: 1m
  change_check: 2s
  stun_servers: ["[2001:db8::1]:3478", stun.example.net:19302]
  strategies: []
  early_udp: false
board_options: {bus: 1, "addr": 0x1a, empty: }
api: {listen: ""}
dial_plan: {terminator: ""}
`
	c, err := Parse("phone.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Accounts[0]
	if a.User != "1001" || a.Transport != "tcp" || a.Expires != 90*time.Second || a.Enabled {
		t.Errorf("account 0 = %+v", a)
	}
	if p, _ := c.Primary(); p.User != "carol" {
		t.Errorf("Primary = %q, want the first enabled account carol", p.User)
	}
	if !reflect.DeepEqual(c.Codecs, []string{"PCMA"}) {
		t.Errorf("codecs = %v", c.Codecs)
	}
	if c.Ptime != 30*time.Millisecond || c.NAT.Keepalive != 10*time.Second || c.NAT.BindingLifetime != time.Minute || c.NAT.ChangeCheck != 2*time.Second {
		t.Errorf("durations: ptime %v keepalive %v lifetime %v change check %v", c.Ptime, c.NAT.Keepalive, c.NAT.BindingLifetime, c.NAT.ChangeCheck)
	}
	if c.NAT.Strategies != nil || c.NAT.EarlyUDP {
		t.Errorf("nat = %+v", c.NAT)
	}
	if len(c.NAT.STUNServers) != 2 {
		t.Errorf("stun_servers = %v", c.NAT.STUNServers)
	}
	wantOpts := map[string]string{"bus": "1", "addr": "0x1a", "empty": ""}
	if !reflect.DeepEqual(c.BoardOptions, wantOpts) {
		t.Errorf("board_options = %v, want %v", c.BoardOptions, wantOpts)
	}
	if c.API.Listen != "" || c.DialPlan.Terminator != "" {
		t.Errorf("api.listen %q terminator %q, want both empty", c.API.Listen, c.DialPlan.Terminator)
	}
}

// TestParseLines: every enabled account is a line, in order, with its
// call handling; the calls section and its defaults.
func TestParseLines(t *testing.T) {
	in := `accounts:
  - user: off
    domain: a.example
    enabled: false
  - user: "100"
    domain: a.example
    dnd: true
    dnd_code: 480
    mailbox: "*97"
  - user: "200"
    domain: b.example
    forward_always: sip:desk@b.example
    forward_busy: "300"
    forward_no_answer: vm@b.example
    forward_no_answer_after: 15
calls: {max_calls: 2, call_waiting: off}
`
	c, err := Parse("phone.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	lines := c.Lines()
	if len(lines) != 2 || lines[0].User != "100" || lines[1].User != "200" {
		t.Fatalf("Lines() = %+v, want 100 then 200", lines)
	}
	if a := lines[0]; !a.DND || a.DNDCode != 480 || a.Mailbox != "*97" || a.ForwardNoAnswerAfter != DefaultNoAnswerAfter {
		t.Errorf("line 0 = %+v", a)
	}
	if a := lines[1]; a.DND || a.DNDCode != 486 || a.ForwardAlways != "sip:desk@b.example" || a.ForwardBusy != "300" ||
		a.ForwardNoAnswer != "vm@b.example" || a.ForwardNoAnswerAfter != 15*time.Second {
		t.Errorf("line 1 = %+v", a)
	}
	if c.Calls != (Calls{MaxCalls: 2, CallWaiting: false}) {
		t.Errorf("calls = %+v", c.Calls)
	}
	if d := Default().Calls; d != (Calls{MaxCalls: 4, CallWaiting: true}) {
		t.Errorf("default calls = %+v", d)
	}
}

func TestExampleFile(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Accounts) != 2 {
		t.Fatalf("accounts = %d, want 2", len(c.Accounts))
	}
	a, b := c.Accounts[0], c.Accounts[1]
	if a.AuthUser != "alice-auth" || a.Registrar != "sip:registrar.example.com:5060" || a.OutboundProxy != "proxy.example.com:5060" {
		t.Errorf("account 0 = %+v", a)
	}
	if b.AuthUser != "2001" || b.Transport != "tls" || b.Expires != 600*time.Second || b.Enabled || b.TLSCAFile == "" {
		t.Errorf("account 1 = %+v", b)
	}
	if c.Board != "rpi" || c.BoardOptions["alsa_device"] != "hw:0,0" || c.API.Token == "" {
		t.Errorf("board %q options %v token %q", c.Board, c.BoardOptions, c.API.Token)
	}
	if c.NAT.TURN.Server != "turn.example.net:3478" || len(c.NAT.STUNServers) != 1 {
		t.Errorf("nat = %+v", c.NAT)
	}
}

func TestDemoFile(t *testing.T) {
	c, err := Load("testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := c.Primary()
	if !ok {
		t.Fatal("no account")
	}
	if a.User != "1001" || a.Password != "1001pass" || a.Domain != "127.0.0.1" || a.Registrar != "127.0.0.1:5060" {
		t.Errorf("account = %+v", a)
	}
	if c.API.Listen != "127.0.0.1:8080" || c.Audio.Input != "tone:440" || c.Audio.Output != "null" || c.Board != "sim" {
		t.Errorf("api %q input %q output %q board %q", c.API.Listen, c.Audio.Input, c.Audio.Output, c.Board)
	}
	if len(c.NAT.STUNServers) != 0 {
		t.Errorf("the demo must not contact STUN servers: %v", c.NAT.STUNServers)
	}
}

// TestParseBad checks that each bad file is refused with exactly the
// expected problems, each naming the file, the line and the field.
func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each a prefix of one line of the error, in order
		is   error
	}{
		{"bad transport", "accounts:\n  - user: a\n    domain: example.com\n    transport: udpx\n",
			[]string{`phone.yaml:4: accounts[0].transport: "udpx" is not one of udp, tcp, tls`}, ErrInvalid},
		{"bad srtp", "accounts:\n  - user: a\n    domain: example.com\n    srtp: on\n",
			[]string{`phone.yaml:4: accounts[0].srtp: "on" is not one of off, optional, required`}, ErrInvalid},
		{"srtp keys in the clear", "accounts:\n  - user: a\n    domain: example.com\n    srtp: required\n",
			[]string{`phone.yaml:4: accounts[0].srtp: required needs transport tls: SDES keys travel in the SDP, in the clear over udp`}, ErrInvalid},
		{"unknown top-level key", "board: sim\nboadr: rpi\n",
			[]string{`phone.yaml:2: boadr: unknown key (known keys: accounts, api, audio,`}, ErrUnknownKey},
		{"unknown nested key", "nat:\n  keepalive: 20s\n  stun: x\n",
			[]string{`phone.yaml:3: nat.stun: unknown key`}, ErrUnknownKey},
		{"unknown account key", "accounts:\n  - user: a\n    domain: b.example\n    pasword: x\n",
			[]string{`phone.yaml:4: accounts[0].pasword: unknown key`}, ErrUnknownKey},
		{"syntax", "accounts:\n  - user: a\n   domain: b\n",
			[]string{`phone.yaml:1: yaml: did not find expected '-' indicator`}, ErrSyntax},
		{"syntax tab", "log:\n\tlevel: info\n",
			[]string{`phone.yaml:2: yaml: `}, ErrSyntax},
		{"missing domain and user", "accounts:\n  - display_name: x\n",
			[]string{`phone.yaml:2: accounts[0].user: required`, `phone.yaml:2: accounts[0].domain: required`}, ErrInvalid},
		{"domain with port", "accounts:\n  - user: a\n    domain: example.com:5060\n",
			[]string{`phone.yaml:3: accounts[0].domain: "example.com:5060" is not a host name or IP address`}, ErrInvalid},
		{"bad registrar", "accounts:\n  - user: a\n    domain: example.com\n    registrar: http://x\n",
			[]string{`phone.yaml:4: accounts[0].registrar: "http://x": only host[:port] or a sip:/sips: URI`}, ErrInvalid},
		{"registrar port", "accounts:\n  - user: a\n    domain: example.com\n    registrar: sip:x.example:99999\n",
			[]string{`phone.yaml:4: accounts[0].registrar: "sip:x.example:99999": port "99999" must be 1..65535`}, ErrInvalid},
		{"bad outbound proxy", "accounts:\n  - user: a\n    domain: example.com\n    outbound_proxy: \"bad host\"\n",
			[]string{`phone.yaml:4: accounts[0].outbound_proxy: "bad host":`}, ErrInvalid},
		{"expires too short", "accounts:\n  - user: a\n    domain: example.com\n    expires: 59\n",
			[]string{`phone.yaml:4: accounts[0].expires: 59s is shorter than the minimum of 1m0s`}, ErrInvalid},
		{"expires fractional", "accounts:\n  - user: a\n    domain: example.com\n    expires: 90.5s\n",
			[]string{`phone.yaml:4: accounts[0].expires: 1m30.5s is not a whole number of seconds`}, ErrInvalid},
		{"expires not a duration", "accounts:\n  - user: a\n    domain: example.com\n    expires: soon\n",
			[]string{`phone.yaml:4: accounts[0].expires: "soon" is not a duration`}, ErrInvalid},
		{"enabled not bool", "accounts:\n  - user: a\n    domain: example.com\n    enabled: maybe\n",
			[]string{`phone.yaml:4: accounts[0].enabled: "maybe" is not a boolean (true or false)`}, ErrInvalid},
		{"accept_from", "sip:\n  accept_from: everyone\n",
			[]string{`phone.yaml:2: sip.accept_from: "everyone" is not one of proxy, any`}, ErrInvalid},
		{"allow", "sip:\n  allow:\n    - 10.0.0.0/8\n    - pbx.example.com\n    - 10.0.0.1/33\n",
			[]string{`phone.yaml:4: sip.allow[1]: "pbx.example.com" is not an IP address or CIDR prefix`,
				`phone.yaml:5: sip.allow[2]: "10.0.0.1/33" is not an IP address or CIDR prefix`}, ErrInvalid},
		{"ring_timeout", "sip: {ring_timeout: 1s}\n",
			[]string{`phone.yaml:1: sip.ring_timeout: 1s is out of range 5s..10m0s`}, ErrInvalid},
		{"history size", "history:\n  file: /perm/deskphone/history.json\n  size: 0\n",
			[]string{`phone.yaml:3: history.size: 0 is out of range 1..10000`}, ErrInvalid},
		{"history file a directory", "history:\n  file: /perm/deskphone/\n",
			[]string{`phone.yaml:2: history.file: "/perm/deskphone/" names a directory, not a file`}, ErrInvalid},
		{"phonebook file is the history", "history: {file: /perm/h.json}\nphonebook:\n  file: /perm/./h.json\n",
			[]string{`phone.yaml:3: phonebook.file: "/perm/./h.json" is also history.file`}, ErrInvalid},
		{"phonebook unknown key", "phonebook:\n  path: /perm/pb.yaml\n",
			[]string{`phone.yaml:2: phonebook.path: unknown key (known keys: file)`}, ErrUnknownKey},
		{"memory_limit unit", "memory_limit: 64\n",
			[]string{`phone.yaml:1: memory_limit: "64" is not a size (a whole number with a unit`}, ErrInvalid},
		{"memory_limit small", "memory_limit: 1MiB\n",
			[]string{`phone.yaml:1: memory_limit: 1048576 bytes is below the minimum of 16MiB`}, ErrInvalid},
		{"duplicate account", "accounts:\n  - user: a\n    domain: example.com\n  - user: a\n    domain: EXAMPLE.com\n",
			[]string{`phone.yaml:4: accounts[1]: duplicate account a@example.com (same as accounts[0])`}, ErrInvalid},
		{"dnd_code", "accounts:\n  - user: a\n    domain: example.com\n    dnd: yes\n    dnd_code: 603\n",
			[]string{`phone.yaml:5: accounts[0].dnd_code: 603 is not one of 486 (Busy Here), 480 (Temporarily Unavailable)`}, ErrInvalid},
		{"subscribe_mwi not bool", "accounts:\n  - user: a\n    domain: example.com\n    subscribe_mwi: please\n",
			[]string{`phone.yaml:4: accounts[0].subscribe_mwi: "please" is not a boolean`}, ErrInvalid},
		{"dnd not bool", "accounts:\n  - user: a\n    domain: example.com\n    dnd: sometimes\n",
			[]string{`phone.yaml:4: accounts[0].dnd: "sometimes" is not a boolean`}, ErrInvalid},
		{"forward targets", "accounts:\n  - user: a\n    domain: example.com\n    forward_always: \"bob smith\"\n    forward_busy: http://x/y\n    forward_no_answer: sip:host.example\n    mailbox: \"@pbx\"\n",
			[]string{`phone.yaml:4: accounts[0].forward_always: "bob smith": must not contain spaces`,
				`phone.yaml:5: accounts[0].forward_busy: "http://x/y": only a number, user, user@host or a sip:/sips:/tel: URI`,
				`phone.yaml:6: accounts[0].forward_no_answer: "sip:host.example": a SIP URI target needs a user part`,
				`phone.yaml:7: accounts[0].mailbox: "@pbx": no user before '@'`}, ErrInvalid},
		{"forward bad host", "accounts:\n  - user: a\n    domain: example.com\n    forward_busy: bob@bad_host!\n",
			[]string{`phone.yaml:4: accounts[0].forward_busy: "bob@bad_host!": "bad_host!" is not a host name or IP address`}, ErrInvalid},
		{"forward_no_answer_after range", "accounts:\n  - user: a\n    domain: example.com\n    forward_no_answer_after: 0s\n",
			[]string{`phone.yaml:4: accounts[0].forward_no_answer_after: 0s is out of range 1s..10m0s`}, ErrInvalid},
		{"forward_no_answer_after past ring_timeout", "sip: {ring_timeout: 30s}\naccounts:\n  - user: a\n    domain: example.com\n    forward_no_answer: \"2002\"\n    forward_no_answer_after: 30s\n",
			[]string{`phone.yaml:6: accounts[0].forward_no_answer_after: 30s must be shorter than sip.ring_timeout 30s`}, ErrInvalid},
		{"forward_no_answer_after default past ring_timeout", "sip: {ring_timeout: 10s}\naccounts:\n  - user: a\n    domain: example.com\n    forward_no_answer: \"2002\"\n",
			[]string{`phone.yaml:5: accounts[0].forward_no_answer_after: 20s must be shorter than sip.ring_timeout 10s`}, ErrInvalid},
		{"more lines than sip ports", "ports: {sip: {min: 6000, max: 6001}}\naccounts:\n  - {user: a, domain: x.example}\n  - {user: b, domain: x.example}\n  - {user: c, domain: x.example, transport: tcp}\n  - {user: d, domain: x.example}\n",
			[]string{`phone.yaml:1: ports.sip: range 6000-6001 has 2 ports; the 3 enabled UDP accounts (lines) need one each`}, ErrInvalid},
		{"max_calls", "calls:\n  max_calls: 0\n",
			[]string{`phone.yaml:2: calls.max_calls: 0 is out of range 1..16`}, ErrInvalid},
		{"max_calls not int", "calls: {max_calls: many}\n",
			[]string{`phone.yaml:1: calls.max_calls: "many" is not an integer`}, ErrInvalid},
		{"call_waiting", "calls:\n  call_waiting: perhaps\n",
			[]string{`phone.yaml:2: calls.call_waiting: "perhaps" is not a boolean`}, ErrInvalid},
		{"calls unknown key", "calls:\n  waiting: false\n",
			[]string{`phone.yaml:2: calls.waiting: unknown key (known keys: call_waiting, max_calls)`}, ErrUnknownKey},
		{"account not a mapping", "accounts:\n  - alice\n",
			[]string{`phone.yaml:2: accounts[0]: expected a mapping, got "alice"`, `phone.yaml:2: accounts[0].user: required`, `phone.yaml:2: accounts[0].domain: required`}, ErrInvalid},
		{"accounts not a list", "accounts: alice\n",
			[]string{`phone.yaml:1: accounts: expected a list, got "alice"`}, ErrInvalid},
		{"duplicate key", "log:\n  level: info\n  level: debug\n",
			[]string{`phone.yaml:3: log.level: duplicate key (first set on line 2)`}, ErrInvalid},
		{"codec", "codecs: [PCMU, G729]\n",
			[]string{`phone.yaml:1: codecs[1]: "G729" is not one of G722, PCMU, PCMA, OPUS`}, ErrInvalid},
		{"codec on its own line", "codecs:\n  - PCMU\n  - g729\n",
			[]string{`phone.yaml:3: codecs[1]: "G729" is not one of G722, PCMU, PCMA, OPUS`}, ErrInvalid},
		{"codec twice", "codecs: [PCMU, pcmu]\n",
			[]string{`phone.yaml:1: codecs[1]: "PCMU" is listed twice`}, ErrInvalid},
		{"no codec", "codecs: []\n",
			[]string{`phone.yaml:1: codecs: at least one codec is needed`}, ErrInvalid},
		{"dtmf", "dtmf: inband\n",
			[]string{`phone.yaml:1: dtmf: "inband" is not one of rfc4733, info`}, ErrInvalid},
		{"dtmf payload type", "dtmf_payload_type: 8\n",
			[]string{`phone.yaml:1: dtmf_payload_type: 8 is out of range 96..127`}, ErrInvalid},
		{"dtmf payload type not int", "dtmf_payload_type: one\n",
			[]string{`phone.yaml:1: dtmf_payload_type: "one" is not an integer`}, ErrInvalid},
		{"ptime", "ptime: 25ms\n",
			[]string{`phone.yaml:1: ptime: 25ms is not a multiple of 10ms between 10ms and 120ms`}, ErrInvalid},
		{"sip range below 1024", "ports:\n  sip: {min: 80, max: 90}\n",
			[]string{`phone.yaml:2: ports.sip.min: 80 is below 1024`}, ErrInvalid},
		{"sip range inverted", "ports:\n  sip:\n    min: 6000\n    max: 5000\n",
			[]string{`phone.yaml:4: ports.sip.max: max 5000 must be greater than min 6000`}, ErrInvalid},
		{"media range too small", "ports:\n  media: {min: 20000, max: 20002}\n",
			[]string{`phone.yaml:2: ports.media: range 20000-20002 has 3 ports; at least 4 are needed`}, ErrInvalid},
		{"ranges overlap", "ports:\n  sip: {min: 16000, max: 16400}\n",
			[]string{`phone.yaml:1: ports.media: range 16384-16483 overlaps the sip range 16000-16400`}, ErrInvalid},
		{"port out of range", "ports:\n  media:\n    max: 70000\n",
			[]string{`phone.yaml:3: ports.media.max: 70000 is not a port number (1024..65535)`}, ErrInvalid},
		{"negative port", "ports:\n  sip:\n    min: -1\n",
			[]string{`phone.yaml:3: ports.sip.min: -1 is not a port number (1024..65535)`}, ErrInvalid},
		{"stun without port", "nat:\n  stun_servers:\n    - stun.example.net\n",
			[]string{`phone.yaml:3: nat.stun_servers[0]: "stun.example.net": missing port (host:port)`}, ErrInvalid},
		{"turn without credentials", "nat:\n  turn:\n    server: turn.example.net:3478\n",
			[]string{`phone.yaml:3: nat.turn.username: required when nat.turn.server is set`, `phone.yaml:3: nat.turn.password: required`}, ErrInvalid},
		{"static external", "nat:\n  static_external: 203.0.113.300\n",
			[]string{`phone.yaml:2: nat.static_external: "203.0.113.300" is not an IP address`}, ErrInvalid},
		{"static external loopback", "nat:\n  static_external: 127.0.0.1\n",
			[]string{`phone.yaml:2: nat.static_external: 127.0.0.1 cannot be an external address`}, ErrInvalid},
		{"strategy", "nat:\n  strategies: [stun, ice]\n",
			[]string{`phone.yaml:2: nat.strategies[1]: "ice" is not one of static, stun, gateway, turn`}, ErrInvalid},
		{"keepalive vs lifetime", "nat:\n  keepalive: 30s\n  binding_lifetime: 30s\n",
			[]string{`phone.yaml:2: nat.keepalive: 30s must be shorter than nat.binding_lifetime 30s`}, ErrInvalid},
		{"negative lifetime", "nat:\n  binding_lifetime: -5s\n",
			[]string{`phone.yaml:2: nat.binding_lifetime: -5s is negative`}, ErrInvalid},
		{"change check negative", "nat:\n  change_check: -1s\n",
			[]string{`phone.yaml:2: nat.change_check: -1s is negative`}, ErrInvalid},
		{"change check short", "nat:\n  change_check: 200ms\n",
			[]string{`phone.yaml:2: nat.change_check: 200ms is shorter than the minimum of 1s`}, ErrInvalid},
		{"keepalive zero", "nat:\n  keepalive: 0\n",
			[]string{`phone.yaml:2: nat.keepalive: 0s is shorter than the minimum of 1s`}, ErrInvalid},
		// audio.input and audio.output are the board's to check
		// (boardspec.Validate; firmware/boardspec/spec_test.go).
		{"volume", "audio:\n  volume: 101\n  mic_gain: -1\n",
			[]string{`phone.yaml:2: audio.volume: 101 is out of range 0..100`, `phone.yaml:3: audio.mic_gain: -1 is out of range 0..100`}, ErrInvalid},
		{"sample rate", "audio:\n  sample_rate: 11025\n",
			[]string{`phone.yaml:2: audio.sample_rate: 11025 is not 8000 or 16000`}, ErrInvalid},
		{"tones", "audio:\n  tones: xx\n",
			[]string{`phone.yaml:2: audio.tones: "xx" is not one of us, uk, de, fr, eu, au, jp`}, ErrInvalid},
		{"audio not a mapping", "audio: [1]\n",
			[]string{`phone.yaml:1: audio: expected a mapping, got a list`}, ErrInvalid},
		{"dial plan", "dial_plan:\n  timeout: 0s\n  terminator: \"##\"\n  max_digits: 0\n",
			[]string{`phone.yaml:2: dial_plan.timeout: 0s is out of range 1s..1m0s`, `phone.yaml:3: dial_plan.terminator: "##" is not one of`, `phone.yaml:4: dial_plan.max_digits: 0 is out of range 1..128`}, ErrInvalid},
		{"board", "board: pi\n",
			[]string{`phone.yaml:1: board: "pi" is not one of sim, qemu, rpi`}, ErrInvalid},
		{"board option nested", "board_options:\n  pins: [1, 2]\n",
			[]string{`phone.yaml:2: board_options.pins: expected a single value, got a list`}, ErrInvalid},
		{"api without token", "api:\n  listen: 0.0.0.0:8080\n",
			[]string{`phone.yaml:2: api.token: required when api.listen (0.0.0.0:8080) is not a loopback address`}, ErrInvalid},
		{"api all interfaces without token", "api:\n  listen: \":8080\"\n",
			[]string{`phone.yaml:2: api.token: required`}, ErrInvalid},
		{"api listen", "api:\n  listen: localhost\n",
			[]string{`phone.yaml:2: api.listen: "localhost" is not host:port`}, ErrInvalid},
		{"api token short", "api:\n  listen: 0.0.0.0:8080\n  token: secret\n",
			[]string{"phone.yaml:3: api.token: 6 characters is too short to guess at: at least 16"}, ErrInvalid},
		{"api listen host name", "api:\n  listen: phone.lan:80\n  token: 0123456789abcdef\n",
			[]string{`phone.yaml:2: api.listen: "phone.lan:80": host must be an IP address, localhost or empty`}, ErrInvalid},
		{"two documents", "board: sim\n---\nboard: rpi\n",
			[]string{`phone.yaml:2: more than one YAML document`}, ErrSyntax},
		{"syntax in second document", "board: sim\n---\nboard: [\n",
			[]string{`phone.yaml:3: yaml: did not find expected node content`}, ErrSyntax},
		{"api port", "api:\n  listen: 127.0.0.1:65536\n",
			[]string{`phone.yaml:2: api.listen: "127.0.0.1:65536": port must be 0..65535`}, ErrInvalid},
		{"odd key", "log:\n  \"a\\nb: c\": 1\n",
			[]string{`phone.yaml:2: log."a\nb: c": unknown key`}, ErrUnknownKey},
		{"odd board option", "board_options:\n  \"x\\ty\": [1]\n",
			[]string{`phone.yaml:2: board_options."x\ty": expected a single value, got a list`}, ErrInvalid},
		{"log", "log:\n  level: verbose\n  format: xml\n",
			[]string{`phone.yaml:2: log.level: "verbose" is not one of debug, info, warn, error`, `phone.yaml:3: log.format: "xml" is not one of text, json`}, ErrInvalid},
		{"top level list", "- a\n- b\n",
			[]string{`phone.yaml:1: expected a mapping, got a list`}, ErrInvalid},
		{"merge key", "base: &b {level: info}\nlog:\n  <<: *b\n",
			[]string{`phone.yaml:1: base: unknown key`, `phone.yaml:3: log: merge keys (<<) are not supported`}, ErrInvalid},
		{"many problems at once", "accounts:\n  - user: a\n    domain: example.com\n    transport: sctp\ncodecs: [G729]\nbogus: 1\nlog: {level: loud}\n",
			[]string{`phone.yaml:4: accounts[0].transport:`, `phone.yaml:5: codecs[0]:`, `phone.yaml:6: bogus: unknown key`, `phone.yaml:7: log.level:`}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("phone.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", plain(c))
			}
			if c != nil {
				t.Error("Parse returned a Config with an error")
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(err, %v) = false; err = %v", tt.is, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
			if ps := Problems(err); len(ps) != len(tt.want) {
				t.Errorf("Problems() found %d, want %d", len(ps), len(tt.want))
			}
		})
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	in := "accounts:\n  - &a\n    user: x\n    domain: example.com\n    transport: udpx\ncodecs: &c [PCMU]\n"
	_, err := Parse("phone.yaml", []byte(in))
	want := `phone.yaml:5: accounts[0].transport: "udpx" is not one of udp, tcp, tls`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level multiplies the expanded size by ten: far beyond any
	// real config. It must be refused quickly, not expanded.
	var b strings.Builder
	b.WriteString("x0: &a0 [PCMU, PCMU, PCMU, PCMU, PCMU, PCMU, PCMU, PCMU, PCMU, PCMU]\n")
	prev := "a0"
	for i := 1; i < 9; i++ {
		name := "a" + string(rune('0'+i))
		b.WriteString("x" + string(rune('0'+i)) + ": &" + name + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = name
	}
	b.WriteString("codecs: *" + prev + "\n")
	_, err := Parse("phone.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("alias bomb accepted")
	}
}

func TestValidateWithoutFile(t *testing.T) {
	c := Default()
	c.Accounts = []Account{{User: "u", Domain: "example.com", Transport: "smtp", Expires: time.Hour,
		DNDCode: 486, ForwardNoAnswerAfter: DefaultNoAnswerAfter}}
	c.Audio.Volume = 200
	err := c.Validate()
	want := "accounts[0].transport: \"smtp\" is not one of udp, tcp, tls\naudio.volume: 200 is out of range 0..100"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
	ps := Problems(err)
	if len(ps) != 2 || ps[0].Field != "accounts[0].transport" || ps[0].Line != 0 || ps[0].File != "" {
		t.Errorf("Problems = %+v", ps)
	}
}

func TestValidateAfterParseNamesLines(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("audio:\n  volume: 10\naccounts:\n  - user: a\n    domain: example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.Audio.Volume = -3
	c.Accounts[0].Domain = ""
	err = c.Validate()
	want := "phone.yaml:2: audio.volume: -3 is out of range 0..100\nphone.yaml:5: accounts[0].domain: required"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
}

// TestPortsAgreeWithPortmgr checks that the field-by-field range checks
// accept exactly what portmgr.ValidateRanges accepts.
func TestPortsAgreeWithPortmgr(t *testing.T) {
	vals := []uint16{0, 1023, 1024, 1025, 1026, 1027, 1028, 5060, 5061, 5069, 16383, 16384, 16387, 65534, 65535}
	n := 0
	for _, a := range vals {
		for _, b := range vals {
			for _, m := range []PortRange{{Min: 1024, Max: 1027}, {Min: 5061, Max: 5064}, {Min: 16384, Max: 16483}, {Min: 65532, Max: 65535}} {
				sip := PortRange{Min: a, Max: b}
				c := Default()
				c.Ports = Ports{SIP: sip, Media: m}
				mine := c.Validate() == nil
				theirs := portmgr.ValidateRanges(portmgr.Range(sip), portmgr.Range(m)) == nil
				if mine != theirs {
					t.Errorf("sip %v media %v: config valid=%v, portmgr valid=%v", sip, m, mine, theirs)
				}
				c.Ports = Ports{SIP: m, Media: sip}
				mine = c.Validate() == nil
				theirs = portmgr.ValidateRanges(portmgr.Range(m), portmgr.Range(sip)) == nil
				if mine != theirs {
					t.Errorf("sip %v media %v: config valid=%v, portmgr valid=%v", m, sip, mine, theirs)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

// full returns a valid Config with every field away from its default.
func full() *Config {
	c := Default()
	c.Accounts = []Account{
		{User: "alice", AuthUser: "a1", Password: "p: w # 'x\"", DisplayName: "Alice Ü", Domain: "example.com",
			Registrar: "sips:reg.example.com:5061;transport=tls", OutboundProxy: "proxy.example.com:5070",
			Transport: "tls", Expires: 120 * time.Second, TLSCAFile: "/etc/ca.pem", Enabled: false,
			DND: true, DNDCode: 480, ForwardAlways: "sip:desk@example.com;transport=tcp", ForwardBusy: "2001",
			ForwardNoAnswer: "vm@10.0.0.9", ForwardNoAnswerAfter: 12 * time.Second, Mailbox: "*97", SubscribeMWI: true, SRTP: "required"},
		{User: "0042", AuthUser: "0042", Domain: "10.0.0.1", Registrar: "10.0.0.1", Transport: "tcp", Expires: 61 * time.Second, Enabled: true,
			DNDCode: 486, ForwardNoAnswerAfter: 1500 * time.Millisecond, Mailbox: "tel:+441234", SRTP: "optional", SRTPOverInsecure: true},
	}
	c.Calls = Calls{MaxCalls: 7, CallWaiting: false}
	c.Codecs = []string{"PCMA"}
	c.DTMF = "info"
	c.DTMFPayloadType = 96
	c.Ptime = 40 * time.Millisecond
	c.Ports = Ports{SIP: PortRange{Min: 6000, Max: 6001}, Media: PortRange{Min: 30000, Max: 30003}}
	c.NAT = NAT{
		STUNServers:     []string{"stun1.example.net:3478", "192.0.2.1:3479"},
		TURN:            TURN{Server: "turn.example.net:443", Username: "u", Password: "yes"},
		StaticExternal:  "203.0.113.7",
		Strategies:      []string{"turn", "static"},
		Keepalive:       1500 * time.Millisecond,
		EarlyUDP:        false,
		BindingLifetime: 90 * time.Second,
		UPnP:            false,
	}
	c.Audio = Audio{Input: "wav:/tmp/in put.wav", Output: "wav:/tmp/out.wav", SampleRate: 8000, Volume: 0, MicGain: 100, Tones: "jp"}
	c.DialPlan = DialPlan{Timeout: 7 * time.Second, Terminator: "*", MaxDigits: 5}
	c.Board = "qemu"
	c.BoardOptions = map[string]string{"serial": "/dev/ttyAMA0", "n": "007", "t": "true", "empty": ""}
	c.API = API{Listen: "[::]:9000", Token: "null-but-long-enough"}
	c.Log = Log{Level: "debug", Format: "json"}
	c.SIP = SIP{AcceptFrom: "any", Allow: []string{"192.0.2.7/32", "10.1.0.0/16", "2001:db8::/64"}, RingTimeout: 45 * time.Second,
		DNSServers: []string{"192.0.2.53", "[2001:db8::53]:5353"}, FailoverHold: 90 * time.Second}
	c.History = History{File: "/perm/deskphone/calls.json", Size: 7}
	c.Phonebook = Phonebook{File: "/perm/deskphone/book: #1.yaml"}
	c.MemoryLimit = 96 << 20
	return c
}

func TestRoundTrip(t *testing.T) {
	for name, c := range map[string]*Config{"default": Default(), "full": full()} {
		t.Run(name, func(t *testing.T) {
			if err := c.Validate(); err != nil {
				t.Fatalf("test config invalid: %v", err)
			}
			path := filepath.Join(t.TempDir(), "phone.yaml")
			if err := Save(path, c); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				data, _ := os.ReadFile(path)
				t.Fatalf("Load: %v\n%s", err, data)
			}
			if !reflect.DeepEqual(plain(got), c) {
				t.Errorf("round trip changed the config:\n got %+v\nwant %+v", plain(got), c)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phone.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Board = "toaster"
	if err := Save(path, c); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Save = %v, want ErrInvalid", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("file changed to %q", data)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Load(big) = %v, want ErrTooLarge", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	if want := bad + `:2: log.level: "loud" is not one of debug, info, warn, error`; err == nil || err.Error() != want {
		t.Errorf("Load(bad) = %v, want %s", err, want)
	}
}

// TestDocsExample checks that the example in docs/config.md is the
// example file, so the documentation cannot drift from a valid config.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Skipf("docs not present: %v", err)
	}
	example, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(example)+"```") {
		t.Error("docs/config.md does not contain testdata/example.yaml verbatim")
	}
	// Every key Marshal writes is documented, as `key` or `parent.key`.
	out, err := Marshal(full())
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(out, &root); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(parent string, m *yaml.Node)
	walk = func(parent string, m *yaml.Node) {
		switch m.Kind {
		case yaml.DocumentNode:
			walk(parent, m.Content[0])
		case yaml.SequenceNode:
			for _, e := range m.Content {
				walk(parent, e)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(m.Content); i += 2 {
				key := m.Content[i].Value
				if parent == "board_options" {
					continue // free-form
				}
				n++
				if !strings.Contains(string(doc), "`"+key+"`") && !strings.Contains(string(doc), "`"+parent+"."+key+"`") && !strings.Contains(string(doc), "\n## "+key+"\n") {
					t.Errorf("docs/config.md does not document %s.%s", parent, key)
				}
				walk(key, m.Content[i+1])
			}
		}
	}
	walk("", &root)
	if n < 40 {
		t.Errorf("only %d keys checked", n)
	}
}

// TestDemoScriptConfig is the config scripts/demo.sh writes: an API on
// port 0 (a free port) and a WAV output.
func TestDemoScriptConfig(t *testing.T) {
	in := `accounts:
  - user: "1001"
    password: "1001pass"
    domain: "127.0.0.1"
    registrar: "127.0.0.1:15060"
    expires: 300s
ports:
  sip: {min: 15070, max: 15079}
  media: {min: 16384, max: 16483}
audio:
  input: "tone:440"
  output: "wav:/tmp/x/heard.wav"
nat:
  upnp: false   # the demo talks to loopback only: no gateway probes
api:
  listen: "127.0.0.1:0"
log:
  level: warn
`
	c, err := Parse("phone.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Listen != "127.0.0.1:0" || c.Ports.SIP.Min != 15070 || c.Accounts[0].Expires != 300*time.Second || c.NAT.UPnP {
		t.Errorf("parsed %+v", plain(c))
	}
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("example.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseSIPAndMemoryLimit(t *testing.T) {
	c, err := Parse("phone.yaml", []byte("sip: {accept_from: ANY, allow: [10.0.0.5, 10.1.2.3/16, \"::ffff:10.0.0.6\"], ring_timeout: 30}\nmemory_limit: 64MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.AcceptFrom != "any" || c.SIP.RingTimeout != 30*time.Second || c.MemoryLimit != 64<<20 {
		t.Errorf("sip %+v memory_limit %d", c.SIP, c.MemoryLimit)
	}
	var got []string
	for _, a := range c.SIP.Allow {
		p, err := ParseAllow(a)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.String())
	}
	if want := []string{"10.0.0.5/32", "10.1.0.0/16", "10.0.0.6/32"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allow = %v, want %v", got, want)
	}
	for in, want := range map[string]int64{"0": 0, "100MB": 100e6, "512KiB": 512 << 10, "1GiB": 1 << 30, "4096B": 4096} {
		if n, err := ParseSize(in); err != nil || n != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"", "64", "-1MiB", "1.5GiB", "MiB", "99999999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
