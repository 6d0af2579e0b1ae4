package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/deskphone/phone/board"
	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/firmware/provision"
	"github.com/deskphone/phone/firmware/syslog"
	"github.com/deskphone/phone/firmware/version"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sdp"
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
	// Syslog is the syslog handler the Logger tees to (TeeSyslog), for
	// /metrics; nil for none.
	Syslog *syslog.Handler
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
	// lines are the phone's lines, one per enabled account in order
	// (line 0 first); without any enabled account, one line without an
	// account, for direct calls.
	lines []*uaLine
	ph    *phone.Phone
	api   *api.Server
	store *store   // history and phonebook (store.go)
	scr   *screen  // the display and its menus (screen.go)
	web   webParts // config store and web page (web.go)

	diag diagParts    // metrics and syslog counters (diag.go)
	prov *provisioner // zero-touch provisioning (provision.go)

	codes map[string]func()

	// live is what a config applied while running replaces (apply.go).
	live liveState

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
	d = &Daemon{cfg: cfg, log: log, calls: map[*sip.Call]*lineCall{}, codes: o.ServiceCodes, diag: newDiag(o)}
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
	d.live.net, d.live.started = n, time.Now()
	d.board = o.Board
	if d.board == nil {
		d.board, err = board.Open(cfg.Board, board.Options{
			Input: cfg.Audio.Input, Output: cfg.Audio.Output, Keys: o.Keys, Extra: cfg.BoardOptions,
			SampleRate: cfg.Audio.SampleRate,
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
	allow, err := allowList(cfg.SIP.Allow)
	if err != nil {
		return nil, err
	}
	accounts := cfg.Lines()
	if len(accounts) == 0 {
		accounts = []config.Account{{}} // no account: direct calls only
	}
	var phoneLines []phone.Line
	var settings []phone.LineSettings
	var voicemail []string
	for i, a := range accounts {
		if err := d.addLine(i, a, allow); err != nil {
			return nil, err
		}
		phoneLines = append(phoneLines, d.lines[i])
		settings = append(settings, lineSettings(a))
		voicemail = append(voicemail, a.Mailbox)
	}
	if err := d.openStore(); err != nil {
		return nil, err
	}
	// The screen takes the keys it uses where it is (menus, soft keys);
	// the phone gets the rest through the screen's keypad.
	if d.scr, err = newScreen(d); err != nil {
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
	vol := cfg.Audio.Volume
	if vol == 0 {
		vol = phone.VolumeOff
	}
	d.ph, err = phone.New(phone.Config{
		Board: d.scr.phoneBoard(), Line: d.lines[0], Lines: phoneLines, Settings: settings,
		MaxCalls: cfg.Calls.MaxCalls, NoCallWaiting: !cfg.Calls.CallWaiting, Voicemail: voicemail,
		BLF:         d.setupBLF(), // busy lamp keys (blf.go)
		Tones:       tones{p: preset, rate: d.audioRate()},
		DialTimeout: cfg.DialPlan.Timeout, Terminator: term, MaxDigits: cfg.DialPlan.MaxDigits,
		Volume: vol, Logger: log,
		// Every call that ends goes in the history; callers are named
		// from the phonebook (both on the data partition, store.go).
		History: d.store.history, Directory: d.store.phonebook,
	})
	if err != nil {
		return nil, err
	}
	if d.web, err = newWeb(d, cfg, o.ConfigPath, log); err != nil {
		return nil, err
	}
	d.prov = newProvisioner(d, cfg, log)
	return d, nil
}

// addLine builds line i's user agent for account a (the zero Account:
// the line without an account).
func (d *Daemon) addLine(i int, a config.Account, allow []netip.Prefix) error {
	l, err := d.buildLine(d.cfg, d.pm, i, a, allow)
	if err != nil {
		return err
	}
	d.lines = append(d.lines, l)
	return nil
}

// buildLine builds line i's user agent for account a with cfg's
// settings, its sockets from pm (New, and apply for a changed config).
func (d *Daemon) buildLine(cfg *config.Config, pm *portmgr.Manager, i int, a config.Account, allow []netip.Prefix) (*uaLine, error) {
	acct, err := sipAccount(a)
	if err != nil {
		return nil, fmt.Errorf("daemon: line %d: %w", i, err)
	}
	l := &uaLine{d: d, n: i, mp: &lineMapper{pm: pm}, mailbox: a.Mailbox, mwi: a.SubscribeMWI}
	if a.User != "" {
		l.name = a.User + "@" + a.Domain
	}
	l.log = d.log.With("line", i)
	if cfg.SIP.AcceptFrom == "proxy" && acct.Registrar == "" && acct.OutboundProxy == "" && len(allow) == 0 {
		l.log.Warn("sip.accept_from is proxy but there is no registrar, outbound proxy or sip.allow: no incoming call can ring")
	}
	srtp := sdp.SRTPOff
	if a.SRTP != "" {
		if srtp, err = sdp.ParsePolicy(a.SRTP); err != nil {
			return nil, fmt.Errorf("daemon: line %d: %w", i, err)
		}
	}
	keying, err := sdp.ParseKeying(a.SRTPKeying)
	if err != nil {
		return nil, fmt.Errorf("daemon: line %d: %w", i, err)
	}
	l.ua, err = sip.New(sip.Config{
		Account:          acct,
		SRTP:             srtp,
		SRTPOverInsecure: a.SRTPOverInsecure,
		SRTPKeying:       keying,
		SRTPSuites:       a.SRTPSuites,
		Mapper:           l.mp,
		Codecs:           cfg.LineCodecs(a),
		AudioRate:        d.audioRate(),
		VAD:              cfg.Audio.VAD,
		DTMFPayloadType:  uint8(cfg.DTMFPayloadType),
		DTMFInfo:         cfg.DTMF == "info",
		Ptime:            cfg.Ptime,
		UserAgent:        "deskphone/" + version.Version,
		Logger:           l.log,
		EarlyMedia:       true,
		Prack:            true,
		AcceptFrom:       sip.AcceptPolicy(cfg.SIP.AcceptFrom),
		Allow:            allow,
		RingTimeout:      cfg.SIP.RingTimeout,
		DNS:              sip.DNSConfig{Servers: cfg.SIP.DNSServers, Hold: cfg.SIP.FailoverHold},
		// The phone's cap is over all lines: it refuses the call beyond
		// it, or forwards it on busy, so each UA lets one more through
		// to it. An INVITE beyond that can never be taken and is refused
		// 486 before a media port is opened for it.
		MaxCalls:     cfg.Calls.MaxCalls + 1,
		MediaTimeout: mediaTimeout(cfg.NAT.MediaTimeout),
		ICE:          cfg.NAT.ICE,
		Registered:   pinAfterRefresh,
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: line %d: %w", i, err)
	}
	return l, nil
}

// portConfig maps the config's ports and nat sections onto the port
// manager's Config.
func portConfig(cfg *config.Config, n transport.Net, log *slog.Logger) (portmgr.Config, error) {
	nat := cfg.NAT
	pc := portmgr.Config{
		Net: n, SIPPorts: portmgr.Range(cfg.Ports.SIP), MediaPorts: portmgr.Range(cfg.Ports.Media), Logger: log,
		STUNServers:     nat.STUNServers,
		TURN:            portmgr.TURNConfig{Server: nat.TURN.Server, Username: nat.TURN.Username, Password: nat.TURN.Password, Fallbacks: nat.TURN.Fallbacks, Transport: nat.TURN.Transport},
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
	var err error
	if pc.TURN.TLSConfig, err = turnTLS(nat.TURN.CAFile); err != nil { // turnca.go
		return pc, err
	}
	return pc, nil
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
// order: API, phone, UAs (un-REGISTER), port manager, board.
//
// A line that cannot start (no SIP port is left for it) is logged and
// shown in its status; the phone runs on the others, as a desk phone
// keeps its working lines. Run fails only when no line starts. (A
// registrar that does not resolve yet is not a failure to start: the
// line reports it in its registration and keeps trying.)
func (d *Daemon) Run(ctx context.Context) error {
	var errs []error
	for _, l := range d.lines {
		if err := l.ua.Start(ctx); err != nil {
			l.log.Error("line did not start: it neither registers nor places calls", "account", l.name, "err", err)
			l.setStartErr(err)
			errs = append(errs, fmt.Errorf("daemon: line %d (%s): %w", l.n, l.name, err))
			continue
		}
		if l.mwi {
			// The subscription lives until the UA closes; it retries on
			// its own when the server ends or refuses it for a while.
			if _, err := l.ua.WatchMWI(""); err != nil {
				l.log.Warn("message-waiting subscription", "err", err)
			}
		}
		l.watchBLF() // busy lamp subscriptions (blf.go)
	}
	if len(errs) == len(d.lines) {
		d.closeParts()
		if len(errs) == 1 {
			return errors.Unwrap(errs[0])
		}
		return errors.Join(errs...)
	}
	var wg sync.WaitGroup
	for _, l := range d.lines {
		wg.Go(l.pump)
	}
	pm := d.pm // apply replaces d.pm (and starts its own event loop)
	d.beginLive()
	if d.cfg.API.Listen != "" {
		s, err := api.Start(api.Config{
			Listen: d.cfg.API.Listen, Token: d.cfg.API.Token,
			Status: func() any { return d.Status() }, Actions: actions{d}, Logger: d.log,
			Screen: d.scr.image, ConfigStore: d.web.store, Web: d.web.page,
			Metrics: d.writeMetrics, Trace: traceAPI{},
		})
		if err != nil {
			d.closeParts()
			wg.Wait()
			return err
		}
		d.api = s
	}
	wg.Go(func() { d.portEvents(pm) })
	floodCtx, stopFlood := context.WithCancel(ctx)
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		gcs := make(chan struct{}, 1)
		gcSignals(floodCtx, gcs)
		reclaimAfterFloods(floodCtx, gcs, d.admissionStats, debug.FreeOSMemory, d.log)
	}()
	d.scr.start()
	d.prov.start()
	err := d.ph.Run(ctx)
	stopFlood()
	<-floodDone
	d.closeParts()
	wg.Wait()
	d.live.wg.Wait()
	return err
}

// portEvents hands every port-manager event to every line's UA, which
// acts on those about its own mappings (re-REGISTER and re-INVITE after
// an address change, a SIP ALG logged: the NAT policy lives in voip/sip,
// which owns the dialogs). An ALG on a flow no line holds any more is
// logged here, so that no report is lost. It ends when the manager
// closes its event channel.
func (d *Daemon) portEvents(pm *portmgr.Manager) {
	for ev := range pm.Events() {
		lines := d.linesNow()
		if ev.Kind == portmgr.EventALG && !slices.ContainsFunc(lines, func(l *uaLine) bool {
			return ev.Mapping != nil && l.mp.sipMapping() == ev.Mapping
		}) {
			d.log.Warn("a SIP ALG rewrote our signalling", "sent", ev.Old, "seen", ev.New)
		}
		for _, l := range lines {
			l.ua.HandlePortEvent(ev)
		}
		d.scr.poke()
	}
}

// admissionStats is what admission control turned away, over all lines.
func (d *Daemon) admissionStats() sip.AdmissionStats {
	var s sip.AdmissionStats
	for _, l := range d.linesNow() {
		a := l.ua.AdmissionStats()
		s.RateLimited += a.RateLimited
		s.Forbidden += a.Forbidden
		s.NotFound += a.NotFound
		s.Overloaded += a.Overloaded
		s.Busy += a.Busy
	}
	return s
}

func (d *Daemon) closeParts() {
	d.prov.close()
	if d.scr != nil {
		d.scr.close()
	}
	if d.api != nil {
		_ = d.api.Close()
	}
	d.endLive()
	// The lines close together: each un-REGISTERs and ends its calls
	// within its own CloseTimeout, not one after the other.
	closeLines(d.linesNow())
	if pm := d.ports(); pm != nil {
		_ = pm.Close()
	}
	if d.board != nil {
		_ = d.board.Close()
	}
	d.closeStore()
}

// Status is the document GET /api/status returns (docs/api.md).
type Status struct {
	// Schema is the document's version (StatusSchema).
	Schema  int          `json:"schema"`
	Version string       `json:"version"`
	Board   string       `json:"board"`
	Phone   phone.Status `json:"phone"`
	// Lines are the phone's lines, line 0 first: each enabled account's
	// registration, SIP transport and admission counters.
	Lines []LineStatus `json:"lines"`
	// Registration is line 0's (kept from when the phone had one line,
	// for clients that read it there).
	Registration RegStatus `json:"registration"`
	NAT          any       `json:"nat"`
	// Calls are the calls of every line.
	Calls []CallStatus `json:"calls"`
	// Admission counts the SIP requests turned away (rate limited,
	// forbidden, not found, overloaded, busy), over all lines.
	Admission sip.AdmissionStats `json:"admission"`
	// UptimeS is the seconds since phoned started.
	UptimeS float64             `json:"uptime_s"`
	Extra   map[string]struct{} `json:"-"`

	// Transport is line 0's SIP transport health (down while rebuilt),
	// kept for compatibility like Registration.
	Transport sip.TransportStatus `json:"sip_transport"`
	// Provision is zero-touch provisioning's state; absent when off.
	Provision *provision.Status `json:"provision,omitempty"`
}

// LineStatus is one line in the status document.
type LineStatus struct {
	Line int `json:"line"`
	// Account is user@domain; empty for the line without an account.
	Account      string              `json:"account"`
	Registration RegStatus           `json:"registration"`
	Transport    sip.TransportStatus `json:"sip_transport"`
	Admission    sip.AdmissionStats  `json:"admission"`
	// ExternalSIP is the address the line's SIP flow advertises (UDP;
	// empty over TCP and TLS or while the flow is rebuilt).
	ExternalSIP string `json:"external_sip,omitempty"`
	// Mailbox is the line's voicemail number (config mailbox).
	Mailbox string `json:"mailbox,omitempty"`
	// Error is why the line did not start, if it did not.
	Error string `json:"error,omitempty"`
	// Subscriptions are the line's event subscriptions (message
	// waiting, busy lamps: blf.go).
	Subscriptions []SubscriptionStatus `json:"subscriptions,omitempty"`
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
	ID string `json:"id"`
	// Line is the line the call is on.
	Line      int       `json:"line"`
	Direction string    `json:"direction"`
	State     string    `json:"state"`
	Remote    string    `json:"remote"`
	Codec     string    `json:"codec,omitempty"`
	Duration  float64   `json:"duration_s"`
	RTP       RTPStatus `json:"rtp"`
	// MediaPath is "direct" or "relay" (the media-liveness rule moved the
	// call to the TURN relay); RelayReason says why.
	MediaPath   string `json:"media_path"`
	RelayReason string `json:"relay_reason,omitempty"`
	// SRTP is the call's media security (suite, keying, counters,
	// tls_signalling, keys_in_clear); absent for plain RTP. Never keys.
	SRTP *sip.CallSecurity `json:"srtp,omitempty"`
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
	now := time.Now()
	s := Status{
		Schema: StatusSchema, UptimeS: seconds(now.Sub(d.live.started)),
		Version: version.Version, Board: d.board.Name, Phone: d.ph.Status(),
		NAT: d.ports().Report(), Calls: []CallStatus{}, Admission: d.admissionStats(),
		Provision: d.prov.status(),
	}
	for _, l := range d.linesNow() {
		ls := LineStatus{
			Line: l.n, Account: l.name, Registration: regStatus(l.ua.Registration(), now, d.live.started),
			Transport: l.ua.Transport(), Admission: l.ua.AdmissionStats(), Mailbox: l.mailbox,
			Error: l.startErr(), Subscriptions: l.subscriptionStatus(),
		}
		if mp := l.mp.sipMapping(); mp != nil {
			ls.ExternalSIP = mp.External().String()
		}
		s.Lines = append(s.Lines, ls)
		for _, c := range l.ua.Calls() {
			s.Calls = append(s.Calls, callStatus(l.n, c))
		}
	}
	s.Registration, s.Transport = s.Lines[0].Registration, s.Lines[0].Transport
	return s
}

func callStatus(line int, c *sip.Call) CallStatus {
	cs := CallStatus{
		ID: c.ID(), Line: line, Direction: string(c.Direction()), State: callState(c),
		Remote: c.Remote(), Codec: c.Codec(), SRTP: c.Stats().SRTP,
	}
	cs.MediaPath, cs.RelayReason = c.MediaPath()
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
	return cs
}

// mediaTimeout is the UA's media-liveness timeout for nat.media_timeout:
// the config's 0 turns the rule off (the UA's is negative).
func mediaTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
