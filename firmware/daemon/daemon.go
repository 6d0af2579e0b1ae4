package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/deskphone/phone/board"
	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/firmware/version"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip"
)

// Options configure a Daemon.
type Options struct {
	// Config is the validated configuration. Required.
	Config *config.Config
	// Net is where sockets come from; nil means the host network.
	Net transport.Net
	// Board overrides the board named in the config (tests pass fakes).
	Board *hal.Board
	// Keys is the terminal for the sim board's keys; nil means none.
	Keys io.Reader
	// Logger receives every component's logs; nil discards.
	Logger *slog.Logger
	// ServiceCodes are dialled numbers that are not calls: dialling one
	// on the keypad runs its function instead (e.g. the factory reset
	// code initd registers). The dial then fails with ErrServiceCode. The
	// API (its call action or keys it presses) cannot run them: such a
	// dial fails with ErrServiceCodeRemote, which the API answers 403.
	ServiceCodes map[string]func()
	// ConfigPath is the file Config was loaded from; PUT /api/config and
	// the web page save changes there. "" turns both off.
	ConfigPath string
}

var (
	// ErrServiceCode is the dial result of a service code
	// (Options.ServiceCodes).
	ErrServiceCode = errors.New("daemon: service code carried out, no call")
	// ErrServiceCodeRemote is the dial result of a service code that was
	// not dialled on the keypad; it wraps api.ErrForbidden.
	ErrServiceCodeRemote = fmt.Errorf("daemon: service codes are dialled on the keypad only: %w", api.ErrForbidden)
)

// Daemon is one running phone.
type Daemon struct {
	cfg   *config.Config
	log   *slog.Logger
	board *hal.Board
	pm    *portmgr.Manager
	ua    *sip.UA
	ph    *phone.Phone
	api   *api.Server
	store *store   // history and phonebook (store.go)
	web   webParts // config store and web page (web.go)

	codes map[string]func()

	mu    sync.Mutex // guards calls
	calls map[*sip.Call]*lineCall
}

// New builds every component from the config without starting them.
func New(o Options) (d *Daemon, err error) {
	cfg := o.Config
	if cfg == nil {
		return nil, errors.New("daemon: Config is required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d = &Daemon{cfg: cfg, log: log, calls: map[*sip.Call]*lineCall{}, codes: o.ServiceCodes}
	built := d // d is nil once an error is returned
	defer func() {
		if err != nil {
			built.closeParts()
		}
	}()
	n := o.Net
	if n == nil {
		if n, err = stdnet.NewNet(); err != nil {
			return nil, fmt.Errorf("daemon: host network: %w", err)
		}
	}
	d.board = o.Board
	if d.board == nil {
		d.board, err = board.Open(cfg.Board, board.Options{
			Input: cfg.Audio.Input, Output: cfg.Audio.Output, Keys: o.Keys, Extra: cfg.BoardOptions,
		})
		if err != nil {
			return nil, err
		}
	}
	if c := d.board.Codec; c != nil {
		_ = c.SetVolume(cfg.Audio.Volume)
		_ = c.SetInputGain(cfg.Audio.MicGain)
	}
	pcfg, err := portConfig(cfg, n, log)
	if err != nil {
		return nil, err
	}
	if d.pm, err = portmgr.New(pcfg); err != nil {
		return nil, err
	}
	acct, err := account(cfg)
	if err != nil {
		return nil, err
	}
	allow, err := allowList(cfg.SIP.Allow)
	if err != nil {
		return nil, err
	}
	if cfg.SIP.AcceptFrom == "proxy" && acct.Registrar == "" && acct.OutboundProxy == "" && len(allow) == 0 {
		log.Warn("sip.accept_from is proxy but there is no registrar, outbound proxy or sip.allow: no incoming call can ring")
	}
	d.ua, err = sip.New(sip.Config{
		Account:         acct,
		Mapper:          d.pm,
		Codecs:          cfg.Codecs,
		DTMFPayloadType: uint8(cfg.DTMFPayloadType),
		Ptime:           cfg.Ptime,
		UserAgent:       "deskphone/" + version.Version,
		Logger:          log,
		EarlyMedia:      true,
		Prack:           true,
		AcceptFrom:      sip.AcceptPolicy(cfg.SIP.AcceptFrom),
		Allow:           allow,
		RingTimeout:     cfg.SIP.RingTimeout,
		DNS:             sip.DNSConfig{Servers: cfg.SIP.DNSServers, Hold: cfg.SIP.FailoverHold},
		// One line without call waiting: a second INVITE is busy, and is
		// answered so before a media port is opened for it.
		MaxCalls: 1,
	})
	if err != nil {
		return nil, err
	}
	preset, err := tone.PresetFor(cfg.Audio.Tones)
	if err != nil {
		return nil, fmt.Errorf("daemon: audio.tones: %w", err)
	}
	term := '#'
	if t := []rune(cfg.DialPlan.Terminator); len(t) == 1 {
		term = t[0]
	} else if cfg.DialPlan.Terminator == "" {
		term = -1 // no terminator key
	}
	d.ph, err = phone.New(phone.Config{
		Board: d.board, Line: (*line)(d), Tones: tones{p: preset, rate: cfg.Audio.SampleRate},
		DialTimeout: cfg.DialPlan.Timeout, Terminator: term, MaxDigits: cfg.DialPlan.MaxDigits,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if d.web, err = newWeb(d, cfg, o.ConfigPath, log); err != nil {
		return nil, err
	}
	return d, nil
}

// portConfig maps the config's ports and nat sections onto the port
// manager's Config.
func portConfig(cfg *config.Config, n transport.Net, log *slog.Logger) (portmgr.Config, error) {
	nat := cfg.NAT
	pc := portmgr.Config{
		Net: n, SIPPorts: portmgr.Range(cfg.Ports.SIP), MediaPorts: portmgr.Range(cfg.Ports.Media), Logger: log,
		STUNServers:     nat.STUNServers,
		TURN:            portmgr.TURNConfig{Server: nat.TURN.Server, Username: nat.TURN.Username, Password: nat.TURN.Password},
		Keepalive:       nat.Keepalive,
		BindingLifetime: nat.BindingLifetime,
		ChangeCheck:     nat.ChangeCheck,
		DisableEarlyUDP: !nat.EarlyUDP,
		EnableGateway:   nat.UPnP,
	}
	if nat.ChangeCheck == 0 {
		pc.ChangeCheck = -1 // the config's 0: at the keepalive interval only
	}
	for _, s := range nat.Strategies {
		pc.Strategies = append(pc.Strategies, portmgr.Strategy(s))
	}
	if len(pc.Strategies) == 0 {
		// The config's empty list means "advertise the local address";
		// the port manager's empty list means its defaults.
		pc.Strategies = []portmgr.Strategy{portmgr.StrategyLocal}
	}
	if s := nat.StaticExternal; s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return pc, fmt.Errorf("daemon: nat.static_external: %w", err)
		}
		pc.StaticExternal = ip
	}
	return pc, nil
}

// account turns the first enabled config account into the UA's.
func account(cfg *config.Config) (sip.Account, error) {
	for _, a := range cfg.Accounts {
		if !a.Enabled {
			continue
		}
		sa := sip.Account{
			User: a.User, AuthUser: a.AuthUser, Password: a.Password, Domain: a.Domain,
			DisplayName: a.DisplayName, Registrar: a.Registrar, OutboundProxy: a.OutboundProxy,
			Transport: a.Transport, Expires: a.Expires,
		}
		if a.TLSCAFile != "" {
			pem, err := os.ReadFile(a.TLSCAFile)
			if err != nil {
				return sa, fmt.Errorf("daemon: tls_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return sa, fmt.Errorf("daemon: tls_ca_file %s: no PEM certificate found", a.TLSCAFile)
			}
			sa.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		return sa, nil
	}
	return sip.Account{}, nil // no account: direct calls only
}

// allowList parses sip.allow.
func allowList(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range items {
		p, err := config.ParseAllow(a)
		if err != nil {
			return nil, fmt.Errorf("daemon: sip.allow: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Run starts the phone and serves until ctx is done, then shuts down in
// order: API, phone, UA (un-REGISTER), port manager, board.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.ua.Start(ctx); err != nil {
		d.closeParts()
		return err
	}
	if d.cfg.API.Listen != "" {
		s, err := api.Start(api.Config{
			Listen: d.cfg.API.Listen, Token: d.cfg.API.Token,
			Status: func() any { return d.Status() }, Actions: actions{d}, Logger: d.log,
			ConfigStore: d.web.store, Web: d.web.page,
		})
		if err != nil {
			d.closeParts()
			return err
		}
		d.api = s
	}
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		d.pump()
	}()
	natDone := make(chan struct{})
	go func() {
		defer close(natDone)
		d.natEvents()
	}()
	floodCtx, stopFlood := context.WithCancel(ctx)
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		reclaimAfterFloods(floodCtx, time.NewTicker(floodCheck), d.ua.AdmissionStats, debug.FreeOSMemory, d.log)
	}()
	err := d.ph.Run(ctx)
	stopFlood()
	<-floodDone
	d.closeParts()
	<-pumpDone
	<-natDone
	return err
}

// natEvents acts on the port manager's reports. When the SIP flow's
// external address changed or its binding was lost, it re-registers (so
// the registrar reaches the phone at its new address) and re-INVITEs every
// live call (so in-dialog requests follow the new Contact); when a call's
// media mapping changed, it re-INVITEs that call with the new c=/m=. It
// ends when the manager closes its event channel.
func (d *Daemon) natEvents() {
	for ev := range d.pm.Events() {
		switch ev.Kind {
		case portmgr.EventExternalChanged, portmgr.EventFlowFailed:
			if ev.Mapping != nil && ev.Mapping.Kind == portmgr.KindMedia {
				for _, c := range d.ua.Calls() {
					if c.UsesMapping(ev.Mapping) {
						d.log.Info("media address changed: re-INVITE", "call_id", c.ID(), "old", ev.Old, "new", ev.New)
						d.refresh(c)
					}
				}
				continue
			}
			d.log.Info("external address changed: re-registering", "old", ev.Old, "new", ev.New)
			d.ua.Reregister()
			for _, c := range d.ua.Calls() {
				d.refresh(c)
			}
		case portmgr.EventALG:
			d.log.Warn("a SIP ALG rewrote our signalling", "sent", ev.Old, "seen", ev.New)
		}
	}
}

// refresh re-INVITEs a live call; calls not yet answered, ended, or with a
// re-INVITE already open are left alone.
func (d *Daemon) refresh(c *sip.Call) {
	if err := c.Refresh(); err != nil && !errors.Is(err, sip.ErrCallState) {
		d.log.Warn("re-INVITE after address change", "call_id", c.ID(), "err", err)
	}
}

func (d *Daemon) closeParts() {
	if d.api != nil {
		_ = d.api.Close()
	}
	if d.ua != nil {
		_ = d.ua.Close()
	}
	if d.pm != nil {
		_ = d.pm.Close()
	}
	if d.board != nil {
		_ = d.board.Close()
	}
}

// pump turns UA events into phone events until the UA closes its channel.
func (d *Daemon) pump() {
	for ev := range d.ua.Events() {
		switch e := ev.(type) {
		case *sip.RegistrationEvent:
			s := e.Status
			d.log.Info("registration", "state", s.State, "code", s.Code, "reason", s.Reason)
			if s.State == sip.RegRegistered && s.Received.IsValid() {
				// What the registrar saw is the truth about the SIP flow
				// (RFC 3581): the port manager adopts it and reports a
				// change, which brings us back here to re-register.
				d.pm.ObserveRport(s.Received)
			}
			if s.State == sip.RegRegistered && s.EchoedContact.IsValid() && s.EchoedContact != s.ContactAddr {
				// The registrar holds a Contact we did not send: a SIP
				// ALG rewrote it. The port manager reports it (nat.alg).
				d.pm.ObserveContact(s.ContactAddr, s.EchoedContact)
			}
		case *sip.IncomingCallEvent:
			d.ph.CallEvent(phone.CallEvent{Call: d.wrap(e.Call), State: phone.CallIncoming})
		case *sip.CallEvent:
			if st, ok := mapState(e); ok {
				d.ph.CallEvent(phone.CallEvent{Call: d.wrap(e.Call), State: st, Code: e.Code, Reason: e.Reason, RemoteHold: e.RemoteHold})
			}
			if e.State == sip.StateEnded {
				d.mu.Lock()
				delete(d.calls, e.Call)
				d.mu.Unlock()
			}
		case *sip.DTMFEvent:
			d.log.Info("dtmf", "digit", string(e.Digit), "source", e.Source)
			d.ph.DTMF(phone.DTMFEvent{Call: d.wrap(e.Call), Digit: e.Digit})
		}
	}
}

func mapState(e *sip.CallEvent) (phone.CallState, bool) {
	switch e.State {
	case sip.StateRinging:
		if e.EarlyMedia {
			return phone.CallEarly, true
		}
		return phone.CallRinging, true
	case sip.StateEarly:
		return phone.CallEarly, true
	case sip.StateTalking:
		if e.LocalHold || e.RemoteHold {
			return phone.CallHeld, true
		}
		return phone.CallAnswered, true
	case sip.StateHeld:
		return phone.CallHeld, true
	case sip.StateEnded:
		if e.Code >= 300 {
			return phone.CallFailed, true
		}
		return phone.CallEnded, true
	}
	return 0, false
}

// Status is the document GET /api/status returns.
type Status struct {
	Version      string        `json:"version"`
	Board        string        `json:"board"`
	Phone        phone.Status  `json:"phone"`
	Registration sip.RegStatus `json:"registration"`
	NAT          any           `json:"nat"`
	Calls        []CallStatus  `json:"calls"`
	// Admission counts the SIP requests turned away (rate limited,
	// forbidden, not found, overloaded, busy).
	Admission sip.AdmissionStats  `json:"admission"`
	Uptime    string              `json:"uptime,omitempty"`
	Extra     map[string]struct{} `json:"-"`

	// Transport is the SIP transport's health (down while rebuilt).
	Transport sip.TransportStatus `json:"sip_transport"`
}

// RTPStatus is one call's media counters.
type RTPStatus struct {
	Sent     uint64  `json:"sent"`
	Received uint64  `json:"received"`
	Lost     int64   `json:"lost"`
	JitterMS float64 `json:"jitter_ms"`
	Remote   string  `json:"remote,omitempty"`
	// Symmetric RTP: moves of the latch, the last one as "from -> to",
	// and packets refused from sources other than the latched one.
	Relatches   int    `json:"relatches,omitempty"`
	LastRelatch string `json:"last_relatch,omitempty"`
	Strangers   uint64 `json:"strangers,omitempty"`
}

// CallStatus is one call in the status document.
type CallStatus struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"`
	State     string    `json:"state"`
	Remote    string    `json:"remote"`
	Codec     string    `json:"codec,omitempty"`
	Duration  float64   `json:"duration_s"`
	RTP       RTPStatus `json:"rtp"`
}

// callState is a call's state for the status document: the UA's, but
// "held_remote" for a connected call only the far end holds.
func callState(c *sip.Call) string {
	st := c.Stats()
	if st.State == sip.StateTalking && st.RemoteHold {
		return "held_remote"
	}
	return string(st.State)
}

// Phone returns the state machine (for tests and the terminal UI).
func (d *Daemon) Phone() *phone.Phone { return d.ph }

// Status assembles the status document.
func (d *Daemon) Status() Status {
	s := Status{
		Version: version.Version, Board: d.board.Name, Phone: d.ph.Status(),
		Registration: d.ua.Registration(), NAT: d.pm.Report(), Calls: []CallStatus{},
		Admission: d.ua.AdmissionStats(), Transport: d.ua.Transport(),
	}
	for _, c := range d.ua.Calls() {
		cs := CallStatus{
			ID: c.ID(), Direction: string(c.Direction()), State: callState(c),
			Remote: c.Remote(), Codec: c.Codec(),
		}
		if t := c.Answered(); !t.IsZero() {
			cs.Duration = time.Since(t).Round(time.Millisecond).Seconds()
		}
		if m := c.Media(); m != nil {
			st := m.Stats()
			cs.RTP = RTPStatus{
				Sent: st.Sent, Received: st.Received, Lost: st.Lost,
				JitterMS:  float64(st.Jitter) / float64(time.Millisecond),
				Relatches: st.Relatches, Strangers: st.Strangers,
			}
			if st.Relatches > 0 {
				cs.RTP.LastRelatch = st.RelatchFrom.String() + " -> " + st.RelatchTo.String()
			}
			if st.Latched.IsValid() {
				cs.RTP.Remote = st.Latched.String()
			}
		}
		s.Calls = append(s.Calls, cs)
	}
	return s
}

// line adapts the UA to phone.Line.
type line Daemon

func (l *line) Dial(ctx context.Context, target string) (phone.Call, error) {
	d := (*Daemon)(l)
	if f, ok := d.codes[target]; ok {
		if !phone.DialledOnKeypad(ctx) {
			// A web page or a token holder must not wipe the phone.
			d.log.Warn("service code refused: not dialled on the keypad")
			return nil, ErrServiceCodeRemote
		}
		d.log.Info("service code dialled", "code", target)
		f()
		return nil, ErrServiceCode
	}
	c, err := d.ua.Dial(ctx, target)
	if err != nil {
		return nil, err
	}
	return d.wrap(c), nil
}

func (d *Daemon) wrap(c *sip.Call) *lineCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	lc, ok := d.calls[c]
	if !ok {
		lc = &lineCall{c: c}
		d.calls[c] = lc
	}
	return lc
}

// lineCall adapts a *sip.Call to phone.Call.
type lineCall struct{ c *sip.Call }

func (l *lineCall) ID() string                   { return l.c.ID() }
func (l *lineCall) Remote() string               { return l.c.Remote() }
func (l *lineCall) Answer() error                { return l.c.Answer() }
func (l *lineCall) Reject(code int) error        { return l.c.Reject(code) }
func (l *lineCall) Hangup() error                { return l.c.Hangup() }
func (l *lineCall) Hold() error                  { return l.c.Hold() }
func (l *lineCall) Resume() error                { return l.c.Resume() }
func (l *lineCall) SendDTMF(digits string) error { return l.c.SendDTMF(digits) }
func (l *lineCall) Media() phone.Media {
	if m := l.c.Media(); m != nil {
		return m
	}
	return nil
}
