package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// Store holds the phone's config: api.ConfigStore's shape. SaveConfig
// validates, saves and applies a config, and says whether it takes
// effect only after phoned restarts.
type Store interface {
	Config() *config.Config
	SaveConfig(c *config.Config) (restartRequired bool, err error)
}

// Installer installs a firmware bundle (on a device, initd's update
// agent: signature, board and version checks, inactive slot, trial boot).
type Installer interface {
	// RolledBack returns the firmware version this phone last gave up
	// on in a trial boot, "" when none.
	RolledBack(ctx context.Context) (string, error)
	// Install hands over a bundle. On success the phone reboots into it.
	Install(ctx context.Context, bundle io.Reader) error
}

// Config configures a Provisioner.
type Config struct {
	// Store is the phone's config: the base provisioned files are laid
	// over, and where the result goes. Required.
	Store Store
	// MAC names the phone's own file (FileName). Required.
	MAC net.HardwareAddr
	// DHCP returns the server URL the DHCP server offered (options 66,
	// 150, 43), "" when none; nil means none. It is asked at every check
	// and used when provision.url is empty and provision.ignore_dhcp is
	// false.
	DHCP func() string
	// Version is the running firmware's version (firmware.version is
	// compared with it).
	Version string
	// Installer, when set, installs a provisioned firmware; nil turns
	// firmware pulls off.
	Installer Installer
	// Restart is called after a provisioned config that needs phoned
	// restarted was saved; nil only logs it.
	Restart func()
	// BootJitter bounds the random delay before the first check; default
	// DefaultBootJitter.
	BootJitter time.Duration
	// ChangeNotified says the caller calls ServerChanged whenever the
	// server URL may have changed (the config store saved a config, the
	// DHCP client left a new URL): the provisioner then waits for that
	// instead of looking again every NoServerPoll, so an idle phone is
	// not woken for it. False keeps the poll.
	ChangeNotified bool
	// Rand returns a random number in [0, n); default math/rand/v2.
	Rand   func(n int64) int64
	Logger *slog.Logger
}

// Timing.
const (
	// DefaultBootJitter bounds the random delay before the first check.
	DefaultBootJitter = 30 * time.Second
	// MaxJitter bounds the random part of the interval between checks.
	MaxJitter = time.Hour
	// FirstRetry is the wait after a failed check, doubled after each
	// further failure up to the interval.
	FirstRetry = time.Minute
	// NoServerPoll is how often the phone looks again for a server URL
	// (DHCP may offer one later) while it has none.
	NoServerPoll = 15 * time.Second
)

// States of Status.State.
const (
	StateOff     = "off"     // no server known
	StateOK      = "ok"      // the last check succeeded
	StateError   = "error"   // the last check failed; nothing was changed
	StateWaiting = "waiting" // no check yet
)

// Status is the provisioning part of the phone's status.
type Status struct {
	State string `json:"state"`
	// URL is the server; Source where it came from: "config" or "dhcp".
	URL    string `json:"url,omitempty"`
	Source string `json:"source,omitempty"`
	// Error is the last check's problem, with URL, line and field.
	Error     string    `json:"error,omitempty"`
	LastCheck time.Time `json:"last_check,omitzero"`
	// LastChange is when a provisioned config was last saved.
	LastChange time.Time `json:"last_change,omitzero"`
	NextCheck  time.Time `json:"next_check,omitzero"`
	// Firmware is the firmware pull's last outcome.
	Firmware string `json:"firmware,omitempty"`
}

// Provisioner checks the server at boot and then periodically (see the
// package documentation).
type Provisioner struct {
	cfg     Config
	log     *slog.Logger
	kick    chan struct{}
	changed chan struct{} // ServerChanged

	ctx    context.Context // lifetime: Close cancels it
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  sync.Once

	check sync.Mutex // one check at a time; guards following
	cache map[string]*cached
	hc    *http.Client
	hcFor config.Provision
	fwBad string // url and version of a firmware that failed

	mu sync.Mutex // guards following
	st Status
}

// New checks cfg and returns a Provisioner; Start starts its checks.
func New(cfg Config) (*Provisioner, error) {
	if cfg.Store == nil {
		return nil, errors.New("provision: Store is required")
	}
	if len(cfg.MAC) == 0 {
		return nil, errors.New("provision: MAC is required")
	}
	if cfg.BootJitter <= 0 {
		cfg.BootJitter = DefaultBootJitter
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Int64N
	}
	p := &Provisioner{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), changed: make(chan struct{}, 1), cache: map[string]*cached{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "provision")
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.st.State = StateWaiting
	return p, nil
}

// Start starts the checks: the first after a random delay of up to
// BootJitter, then every interval with jitter.
func (p *Provisioner) Start() {
	p.start.Do(func() { p.wg.Go(p.run) })
}

// Kick asks for a check now (the URL changed, or a person asked).
func (p *Provisioner) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// ServerChanged tells the provisioner that the server URL may have
// changed: it looks at once and checks a changed one. It never blocks.
// Callers that set Config.ChangeNotified call it on every change.
func (p *Provisioner) ServerChanged() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Close stops the checks and waits for a running one to end.
func (p *Provisioner) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

// Status returns the current status.
func (p *Provisioner) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// jitter returns a random duration in [0, d).
func (p *Provisioner) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(p.cfg.Rand(int64(d)))
}

// spread returns d plus or minus a random tenth of it (at most MaxJitter).
func (p *Provisioner) spread(d time.Duration) time.Duration {
	j := min(d/10, MaxJitter)
	return d - j + p.jitter(2*j)
}

func (p *Provisioner) run() {
	wait := p.jitter(p.cfg.BootJitter)
	retry := FirstRetry
	last := "" // the server of the last check
	for {
		if !p.sleep(wait, last) {
			return
		}
		err := p.Check(p.ctx)
		last = p.Status().URL
		interval := p.cfg.Store.Config().Provision.EffectiveInterval()
		switch {
		case p.ctx.Err() != nil:
			return
		case errors.Is(err, ErrNoServer) && p.cfg.ChangeNotified:
			wait = waitForServer
		case errors.Is(err, ErrNoServer):
			wait = p.spread(NoServerPoll)
		case err != nil:
			wait = p.spread(min(retry, interval))
			retry = min(2*retry, interval)
		default:
			wait, retry = p.spread(interval), FirstRetry
		}
	}
}

// waitForServer is sleep's "no deadline": with no server and
// Config.ChangeNotified, only ServerChanged ends the wait.
const waitForServer time.Duration = -1

// sleep waits d (waitForServer: without end), or less when kicked or
// when the server URL changes from last (provision.url set, a new DHCP
// lease). Without Config.ChangeNotified it looks for a change every
// NoServerPoll while a server is known; with it, when ServerChanged
// says so. It returns false once closed.
func (p *Provisioner) sleep(d time.Duration, last string) bool {
	var deadline time.Time
	if d != waitForServer {
		deadline = time.Now().Add(d)
	}
	p.mu.Lock()
	p.st.NextCheck = deadline
	p.mu.Unlock()
	for {
		var timer <-chan time.Time
		var t *time.Timer
		if !deadline.IsZero() {
			step := time.Until(deadline)
			if last != "" && !p.cfg.ChangeNotified {
				step = min(step, NoServerPoll)
			}
			t = time.NewTimer(step)
			timer = t.C
		}
		select {
		case <-p.ctx.Done():
			stopTimer(t)
			return false
		case <-p.kick:
			stopTimer(t)
			return true
		case <-p.changed:
			stopTimer(t)
		case <-timer:
			if !time.Now().Before(deadline) {
				return true
			}
		}
		if u, _ := p.Server(); u != last {
			p.log.Info("provisioning server changed: checking now", "url", u)
			return true
		}
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// Server returns the provisioning server URL and its source ("config" or
// "dhcp"), "" when none: provision.url first, then DHCP's unless
// provision.ignore_dhcp.
func (p *Provisioner) Server() (url, source string) {
	pc := p.cfg.Store.Config().Provision
	if pc.URL != "" {
		return pc.URL, "config"
	}
	if !pc.IgnoreDHCP && p.cfg.DHCP != nil {
		if u := p.cfg.DHCP(); u != "" && config.CheckHTTPURL(u) == nil {
			return u, "dhcp"
		}
	}
	return "", ""
}

func (p *Provisioner) client(pc config.Provision) (*http.Client, error) {
	if p.hc != nil && p.hcFor == pc {
		return p.hc, nil
	}
	hc, err := NewHTTPClient(pc, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	if p.hc != nil {
		p.hc.CloseIdleConnections()
	}
	p.hc, p.hcFor = hc, pc
	return hc, nil
}

// Check fetches the files once and applies them if they changed. Any
// problem leaves the config as it was; it is returned, logged at WARN and
// kept in Status.
func (p *Provisioner) Check(ctx context.Context) error {
	p.check.Lock()
	defer p.check.Unlock()
	url, source := p.Server()
	p.mu.Lock()
	p.st.URL, p.st.Source = url, source
	p.mu.Unlock()
	if url == "" {
		p.setResult(StateOff, nil, false)
		return ErrNoServer
	}
	changed, err := p.checkLocked(ctx, url)
	if err != nil && ctx.Err() == nil {
		p.log.Warn("provisioning failed; the running config is kept", "url", url, "source", source, "err", err)
	}
	if ctx.Err() == nil {
		p.setResult(StateOK, err, changed)
	}
	return err
}

func (p *Provisioner) setResult(state string, err error, changed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.State, p.st.Error = state, ""
	if err != nil {
		p.st.State, p.st.Error = StateError, err.Error()
	}
	if state != StateOff {
		p.st.LastCheck = time.Now()
	}
	if changed {
		p.st.LastChange = p.st.LastCheck
	}
}

func (p *Provisioner) checkLocked(ctx context.Context, server string) (changed bool, err error) {
	cur := p.cfg.Store.Config()
	hc, err := p.client(cur.Provision)
	if err != nil {
		return false, err
	}
	urls := []string{fileURL(server, "phone.yaml"), fileURL(server, FileName(p.cfg.MAC))}
	var layers []config.Layer
	fresh := map[string]*cached{}
	anyChanged := false
	for _, u := range urls {
		f, c, err := get(ctx, hc, u, p.userAgent(), p.cache[u])
		if err != nil {
			return false, err
		}
		fresh[u] = c
		anyChanged = anyChanged || f.changed
		if f.body != nil {
			layers = append(layers, config.Layer{Name: u, Data: f.body})
		}
	}
	if len(layers) == 0 {
		return false, fmt.Errorf("%w: %s, %s", ErrNoFiles, urls[0], urls[1])
	}
	if !anyChanged {
		// As applied last time; a firmware pull that failed on the way
		// (not refused) is tried again.
		p.firmware(ctx, cur.Firmware)
		return false, nil
	}
	merged, err := config.Overlay(cur, layers...)
	if err != nil {
		return false, err
	}
	a, err1 := config.Marshal(cur)
	b, err2 := config.Marshal(merged)
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		restart, err := p.cfg.Store.SaveConfig(merged)
		if err != nil {
			return false, fmt.Errorf("provision: saving the provisioned config: %w", err)
		}
		changed = true
		p.log.Info("provisioned config applied", "url", server, "restart_required", restart)
		defer func() {
			// After the firmware pull: a new firmware reboots the phone
			// anyway, and a restart must not cut the pull short.
			if !restart {
				return
			}
			if p.cfg.Restart != nil {
				p.cfg.Restart()
			} else {
				p.log.Warn("the provisioned config takes effect when phoned restarts")
			}
		}()
	}
	// Only a check that went through remembers its answers: after a bad
	// file the next check asks again in full.
	p.cache = fresh
	p.firmware(ctx, merged.Firmware)
	return changed, nil
}

// userAgent names the phone in the server's logs: "deskphone/<version>".
func (p *Provisioner) userAgent() string {
	v := p.cfg.Version
	if v == "" {
		v = "dev"
	}
	return "deskphone/" + v
}
