package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/pion/transport/v4"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/boardspec"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/portmgr"
)

// A config saved through the API, the web page or provisioning is
// applied while the phone runs (issue 15). What is applied live:
//
//   - accounts: a changed account's line gets a new user agent (it
//     un-REGISTERs and registers again); an added or removed account
//     adds or removes a line; a change of only DND or forwarding
//     changes the line's settings without touching its user agent.
//   - codecs, dtmf, dtmf_payload_type, ptime and sip: every line gets a
//     new user agent.
//   - ports and nat: the port manager is rebuilt, and every line with it.
//   - audio.volume and audio.mic_gain: set on the codec.
//   - web: the web page reads it from the store at each request.
//   - blf: the phone's busy lamp keys are replaced (a kept key keeps its
//     lamp); a line whose watched users or blf_list changed ends its
//     dialog subscriptions and subscribes anew.
//
// A line that is rebuilt ends its calls; the calls of the other lines go
// on. Everything else (board, board_options, the rest of audio, the
// dial plan, calls, api, log, history, phonebook, memory_limit, and any
// section not listed here) is saved and takes effect when phoned
// restarts: SaveConfig reports restart_required for it.

// liveState is the part of the Daemon a config applied while running
// replaces.
type liveState struct {
	net     transport.Net // where the port manager's sockets come from
	started time.Time     // when New ran: the status document's uptime

	mu  sync.RWMutex   // guards the Daemon's lines and pm, and cfg
	cfg *config.Config // the running config: live parts as applied

	applyMu sync.Mutex // serialises apply; guards running, closed
	running bool       // Run started the lines
	closed  bool       // closeParts began: nothing more is applied

	wg sync.WaitGroup // pumps and port-event loops apply started
}

// applyTimeout bounds starting the rebuilt lines and handing them to the
// phone.
const applyTimeout = 15 * time.Second

// linesNow is the current lines (a copy: apply may replace them).
func (d *Daemon) linesNow() []*uaLine {
	d.live.mu.RLock()
	defer d.live.mu.RUnlock()
	return append([]*uaLine(nil), d.lines...)
}

// ports is the current port manager.
func (d *Daemon) ports() *portmgr.Manager {
	d.live.mu.RLock()
	defer d.live.mu.RUnlock()
	return d.pm
}

// running is the config in effect: the live parts of the last saved
// config, the rest as phoned started.
func (d *Daemon) running() *config.Config {
	d.live.mu.RLock()
	defer d.live.mu.RUnlock()
	if d.live.cfg == nil {
		return d.cfg
	}
	return d.live.cfg
}

// beginLive marks the lines as started: from now on a saved config is
// applied to them.
func (d *Daemon) beginLive() {
	d.live.applyMu.Lock()
	d.live.running = true
	d.live.applyMu.Unlock()
}

// endLive stops applying (closeParts): an apply in progress finishes
// first.
func (d *Daemon) endLive() {
	d.live.applyMu.Lock()
	d.live.closed = true
	d.live.applyMu.Unlock()
}

// copyLive copies the parts applied live from src into dst.
func copyLive(dst, src *config.Config) {
	dst.Accounts = src.Accounts
	dst.Codecs, dst.DTMF, dst.DTMFPayloadType, dst.Ptime = src.Codecs, src.DTMF, src.DTMFPayloadType, src.Ptime
	dst.Ports, dst.NAT, dst.SIP = src.Ports, src.NAT, src.SIP
	dst.Audio.Volume, dst.Audio.MicGain = src.Audio.Volume, src.Audio.MicGain
	dst.Web = src.Web
	dst.BLF = src.BLF
}

// needsRestart reports whether next differs from cur (the running
// config) in a part that is not applied live.
func needsRestart(cur, next *config.Config) bool {
	merged := cur.Clone()
	copyLive(merged, next)
	a, errA := config.Marshal(merged)
	b, errB := config.Marshal(next)
	return errA != nil || errB != nil || !bytes.Equal(a, b)
}

// sameUA reports whether two accounts make the same user agent: they
// differ at most in the line's call handling (DND, forwarding), which
// the phone applies.
func sameUA(a, b config.Account) bool {
	a.DND, a.DNDCode, a.ForwardAlways, a.ForwardBusy, a.ForwardNoAnswer, a.ForwardNoAnswerAfter = b.DND, b.DNDCode, b.ForwardAlways, b.ForwardBusy, b.ForwardNoAnswer, b.ForwardNoAnswerAfter
	return reflect.DeepEqual(a, b)
}

// uaGlobal reports whether the settings every line's user agent is
// built with differ.
func uaGlobal(a, b *config.Config) bool {
	return !reflect.DeepEqual(a.Codecs, b.Codecs) || a.DTMF != b.DTMF || a.DTMFPayloadType != b.DTMFPayloadType ||
		a.Ptime != b.Ptime || !reflect.DeepEqual(a.SIP, b.SIP) || a.Calls.MaxCalls != b.Calls.MaxCalls
}

// accountsOf is a config's lines, or the line without an account.
func accountsOf(c *config.Config) []config.Account {
	if ls := c.Lines(); len(ls) > 0 {
		return ls
	}
	return []config.Account{{}}
}

// apply puts next's live parts into effect and reports whether the
// rest needs a restart. A part that cannot be applied (a line whose
// socket cannot be had, say) is logged and shown in the line's status;
// the config stays saved.
func (d *Daemon) apply(next *config.Config) (restart bool, err error) {
	d.live.applyMu.Lock()
	defer d.live.applyMu.Unlock()
	cur := d.running()
	restart = needsRestart(cur, next)
	r := cur.Clone()
	copyLive(r, next)
	if d.live.closed {
		return restart, nil
	}
	if !d.live.running {
		// Before Run (the first admin password saved in New): the lines
		// are built but not started. Only what touches no line is taken.
		if !reflect.DeepEqual(accountsOf(cur), accountsOf(r)) || uaGlobal(cur, r) ||
			!reflect.DeepEqual(cur.Ports, r.Ports) || !reflect.DeepEqual(cur.NAT, r.NAT) || !reflect.DeepEqual(cur.BLF, r.BLF) {
			return true, nil
		}
		d.setRunning(r)
		return restart, nil
	}
	log := d.log.With("component", "apply")
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()

	if c := d.board.Codec; c != nil {
		if r.Audio.Volume != cur.Audio.Volume {
			_ = c.SetVolume(r.Audio.Volume)
		}
		if r.Audio.MicGain != cur.Audio.MicGain {
			_ = c.SetInputGain(r.Audio.MicGain)
		}
	}
	allow, err := allowList(r.SIP.Allow)
	if err != nil {
		return restart, err // validated: cannot happen
	}
	oldAccts, newAccts := accountsOf(cur), accountsOf(r)
	old := d.linesNow()
	rebuildPorts := !reflect.DeepEqual(cur.Ports, r.Ports) || !reflect.DeepEqual(cur.NAT, r.NAT)
	global := rebuildPorts || uaGlobal(cur, r)
	rebuild := make([]bool, len(newAccts))
	var drop []*uaLine // lines whose user agent goes
	for i := range max(len(old), len(newAccts)) {
		switch {
		case i >= len(newAccts):
			drop = append(drop, old[i])
		case i >= len(old):
			rebuild[i] = true
		case global || i >= len(oldAccts) || !sameUA(oldAccts[i], newAccts[i]):
			rebuild[i] = true
			drop = append(drop, old[i])
		}
	}
	var settingsKept []phone.LineStatus
	if d.ph != nil {
		settingsKept = d.ph.Status().Lines
	}
	if len(drop) > 0 {
		log.Info("config applied: lines rebuilt", "rebuilt", len(drop), "lines", len(newAccts), "ports", rebuildPorts)
	}
	// The old user agents go first: each un-REGISTERs and frees its SIP
	// port, which the new one may need (a range of one port per line).
	closeLines(drop)
	pm := d.ports()
	if rebuildPorts {
		_ = pm.Close() // its event loop ends with its channel
		pcfg, err := portConfig(r, d.live.net, d.log)
		if err == nil {
			var npm *portmgr.Manager
			if npm, err = portmgr.New(pcfg); err == nil {
				pm = npm
			}
		}
		if err != nil {
			// The sockets are gone with the old manager: without a new
			// one no line works. The config stays saved; a restart
			// tries again.
			log.Error("config applied: the port manager could not be rebuilt; restart phoned", "err", err)
			return true, fmt.Errorf("%w: port manager: %w", api.ErrFailed, err)
		}
		d.live.mu.Lock()
		d.pm = pm
		d.live.mu.Unlock()
		d.live.wg.Go(func() { d.portEvents(pm) })
	}
	lines := make([]*uaLine, len(newAccts))
	for i, a := range newAccts {
		if !rebuild[i] {
			lines[i] = old[i]
			continue
		}
		l, err := d.buildLine(r, pm, i, a, allow)
		if err != nil {
			// Validated accounts build; a CA file that went away does
			// not: the line is left without a user agent until fixed.
			log.Error("config applied: line not built", "line", i, "err", err)
			l, _ = d.buildLine(r, pm, i, config.Account{}, allow)
			if l == nil {
				return restart, fmt.Errorf("%w: line %d: %w", api.ErrFailed, i, err)
			}
			l.setStartErr(err)
		}
		lines[i] = l
	}
	// Busy lamps (blf.go): a new line watches what the keys ask of it;
	// a kept line whose users or resource list changed subscribes anew.
	keys, users, lists := blfPlan(r, lines, d.log)
	for i, l := range lines {
		if rebuild[i] {
			l.blf.users, l.blf.list = users[i], lists[i]
			d.startLine(ctx, l)
			continue
		}
		l.blf.mu.Lock()
		same := slices.Equal(l.blf.users, users[i]) && l.blf.list == lists[i]
		l.blf.mu.Unlock()
		if !same {
			log.Info("config applied: busy lamp subscriptions renewed", "line", i)
			l.rewatchBLF(users[i], lists[i])
		}
	}
	d.live.mu.Lock()
	d.lines = lines
	d.live.cfg = r
	d.live.mu.Unlock()

	// The phone gets the lines (rebuilt ones are new handles) and each
	// line's settings: the config's where they changed, else the
	// phone's own (toggled on the keypad or through /api/lines).
	pls := make([]phone.Line, len(lines))
	settings := make([]phone.LineSettings, len(lines))
	voicemail := make([]string, len(lines))
	for i, l := range lines {
		pls[i] = l
		a := newAccts[i]
		settings[i] = lineSettings(a)
		if i < len(oldAccts) && i < len(settingsKept) && reflect.DeepEqual(lineSettings(oldAccts[i]), lineSettings(a)) {
			settings[i] = settingsKept[i].LineSettings
		}
		voicemail[i] = a.Mailbox
	}
	if d.ph != nil {
		// The keys name lines, and each set is checked against the lines
		// the phone has: the keys go first when there are fewer lines,
		// last when there are as many or more. A kept key keeps its lamp.
		setKeys := func() error {
			if err := d.ph.SetBLF(ctx, keys); err != nil && !errors.Is(err, phone.ErrStopped) {
				log.Error("config applied: the phone did not take the busy lamp keys", "err", err)
				return fmt.Errorf("%w: %w", api.ErrFailed, err)
			}
			return nil
		}
		if len(lines) < len(old) {
			if err := setKeys(); err != nil {
				return restart, err
			}
		}
		if err := d.ph.SetLines(ctx, pls, settings, voicemail); err != nil && !errors.Is(err, phone.ErrStopped) {
			log.Error("config applied: the phone did not take the lines", "err", err)
			return restart, fmt.Errorf("%w: %w", api.ErrFailed, err)
		}
		if len(lines) >= len(old) {
			if err := setKeys(); err != nil {
				return restart, err
			}
		}
	}
	return restart, nil
}

// setRunning replaces the running config.
func (d *Daemon) setRunning(c *config.Config) {
	d.live.mu.Lock()
	d.live.cfg = c
	d.live.mu.Unlock()
}

// startLine starts a rebuilt line's user agent, its message-waiting
// subscription and the pump of its events, as Run does for the lines it
// starts. A line that cannot start shows why in its status.
func (d *Daemon) startLine(ctx context.Context, l *uaLine) {
	if l.startErr() == "" {
		if err := l.ua.Start(ctx); err != nil {
			l.log.Error("line did not start: it neither registers nor places calls", "account", l.name, "err", err)
			l.setStartErr(err)
		} else {
			if l.mwi {
				if _, err := l.ua.WatchMWI(""); err != nil {
					l.log.Warn("message-waiting subscription", "err", err)
				}
			}
			l.watchBLF() // busy lamp subscriptions (blf.go)
		}
	}
	d.live.wg.Go(l.pump)
}

// closeLines closes the lines' user agents together and waits.
func closeLines(ls []*uaLine) {
	var wg sync.WaitGroup
	for _, l := range ls {
		if l.ua != nil {
			wg.Go(func() { _ = l.ua.Close() })
		}
	}
	wg.Wait()
}

// liveStore is the daemon's api.ConfigStore: it validates a config,
// saves it atomically to the file phoned loaded, and applies it.
type liveStore struct {
	d    *Daemon
	path string

	saveMu sync.Mutex // serialises saves (and their applies)

	mu    sync.Mutex // guards saved; never held while applying
	saved *config.Config
}

var _ api.ConfigStore = (*liveStore)(nil)

func newLiveStore(d *Daemon, path string, cur *config.Config) *liveStore {
	return &liveStore{d: d, path: path, saved: cur}
}

// Config returns the config last saved (or loaded).
func (s *liveStore) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved
}

// SaveConfig validates c (the file's checks and the board's), writes it
// with config.Save and applies it. A config with problems changes
// nothing.
func (s *liveStore) SaveConfig(c *config.Config) (bool, error) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if err := ValidateConfig(c); err != nil {
		return false, err
	}
	if err := config.Save(s.path, c); err != nil {
		if len(config.Problems(err)) > 0 {
			return false, err
		}
		return false, fmt.Errorf("%w: %w", api.ErrFailed, err)
	}
	s.mu.Lock()
	s.saved = c
	s.mu.Unlock()
	s.d.prov.serverChanged() // provision.url may have changed
	// GET /api/config answers the saved config while this applies it.
	return s.d.apply(c)
}

// ValidateConfig checks c as phoned checks its config file at start:
// config.Validate and the board's own fields (boardspec.Validate).
func ValidateConfig(c *config.Config) error {
	return boardspec.Validate(c)
}

// ConfigStore is the store behind /api/config and the web page (nil
// when the daemon was given no config file): provisioning saves a
// fetched config through it, which checks, saves and applies it like a
// PUT.
func (d *Daemon) ConfigStore() api.ConfigStore { return d.web.store }
