//go:build linux

package initd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/initd/boot"
	"github.com/deskphone/phone/firmware/initd/dhcp"
	"github.com/deskphone/phone/firmware/initd/ntp"
	"github.com/deskphone/phone/firmware/update"
	"github.com/deskphone/phone/firmware/version"
)

// DefaultBoard is the board when the kernel command line names none.
const DefaultBoard = "qemu-arm64"

// Kernel command-line parameters initd reads from /proc/cmdline.
const (
	// CmdlineBoard names the board (default qemu-arm64).
	CmdlineBoard = "deskphone.board"
	// CmdlineTrialDeadline overrides System.TrialDeadline ("60s").
	CmdlineTrialDeadline = "deskphone.trial_deadline"
)

// Main is phoned's entry point as PID 1. It never returns: when the
// phone is shut down (or initd fails beyond repair) the machine is
// rebooted or powered off.
func Main() {
	base := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := base.With("component", "initd")
	cmd, err := run(base)
	if err != nil {
		log.Error("initd failed; rebooting in 10 s", "err", err)
		time.Sleep(10 * time.Second)
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	}
	unix.Sync()
	if err := unix.Reboot(cmd); err != nil {
		log.Error("reboot", "err", err)
	}
	select {} // PID 1 must not exit
}

// cmdline returns a kernel command-line parameter's value.
func cmdline(key string) string {
	b, _ := os.ReadFile("/proc/cmdline")
	for _, f := range strings.Fields(string(b)) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// uptime is the time since the kernel started (CLOCK_BOOTTIME), the
// measure of "boot to registered".
func uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// initd is one run of PID 1.
type initd struct {
	log      *slog.Logger
	base     *slog.Logger
	board    string
	slot     string
	trial    bool
	prov     *Provisioned
	shutdown chan int // reboot(2) command requested
	netUp    chan struct{}
	netOnce  sync.Once
	addr     netip.Addr // guarded by mu
	mu       sync.Mutex
}

// requestShutdown asks the main loop to stop the phone and reboot(2)
// with cmd; later requests are ignored.
func (d *initd) requestShutdown(cmd int) {
	select {
	case d.shutdown <- cmd:
	default:
	}
}

// run is PID 1's life; base is the console logger without a component
// (the packages it hands it to add their own).
func run(base *slog.Logger) (int, error) {
	log := base.With("component", "initd")
	d := &initd{log: log, base: base, shutdown: make(chan int, 1), netUp: make(chan struct{})}
	if err := boot.MountBasics(); err != nil {
		return 0, err
	}
	if err := boot.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return 0, err
	}
	// Ctrl-Alt-Del (and QEMU's system_reset from the monitor does not
	// need us): the kernel sends SIGINT instead of rebooting at once.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	d.board = cmdline(CmdlineBoard)
	if d.board == "" {
		d.board = DefaultBoard
	}
	d.slot, d.trial = os.Getenv(boot.EnvSlot), os.Getenv(boot.EnvTrial) == "1"
	if d.slot != update.SlotB {
		d.slot = update.SlotA
	}
	log.Info("deskphone starting", "version", version.Version, "board", d.board, "slot", d.slot, "trial", d.trial, "uptime", uptime().Round(time.Millisecond))

	if !boot.IsMountPoint(boot.DataDir) {
		dev, err := boot.WaitPartition(boot.PartData, 10*time.Second)
		if err == nil {
			err = boot.MountData(dev, boot.DataDir, log)
		}
		if err != nil {
			log.Error("data partition unavailable: settings will not persist", "err", err)
			if err := boot.Mount("tmpfs", boot.DataDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
				return 0, err
			}
		}
	}
	if err := os.MkdirAll(boot.DataDir+"/update", 0o755); err != nil {
		return 0, err
	}
	prov, err := Provision(ConfigDir, d.board, rand.Reader)
	if err != nil {
		if prov == nil {
			return 0, err
		}
		log.Error("system settings", "err", err)
	}
	d.prov = prov
	if v := cmdline(CmdlineTrialDeadline); v != "" {
		if t, err := time.ParseDuration(v); err == nil && t > 0 {
			prov.System.TrialDeadline = Duration(t)
		} else {
			log.Warn("bad "+CmdlineTrialDeadline, "value", v)
		}
	}
	fmt.Printf("deskphone: device token %s\n", prov.Token)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	wg.Go(func() { d.network(ctx) })

	select {
	case <-d.netUp:
	case <-time.After(30 * time.Second):
		log.Warn("network not up after 30 s; starting the phone anyway")
	}
	if servers := prov.System.NTP; len(servers) > 0 {
		// The phone starts once the clock is set (TLS certificates and
		// call times need it), or after 10 s without.
		synced := make(chan struct{})
		var once sync.Once
		nc := &ntp.Client{Servers: servers, Slew: ntp.SlewClock, Logger: base.With("component", "ntp")}
		wg.Go(func() { nc.Run(ctx, func(ntp.Sample) { once.Do(func() { close(synced) }) }) })
		select {
		case <-synced:
		case <-time.After(10 * time.Second):
			log.Warn("clock not synchronised after 10 s; starting the phone anyway", "ntp", servers)
		}
	}

	phoneCtx, stopPhone := context.WithCancel(ctx)
	defer stopPhone()
	phoneDone := make(chan struct{})
	sup := &Supervisor{
		Start:  ExecStarter("/proc/self/exe", []string{"-config", prov.ConfigPath}, []string{"PATH=/", "HOME=" + boot.DataDir, EnvChild + "=1"}),
		Logger: base.With("component", "supervisor", "child", "phoned"),
		Exited: func(err error) bool {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != ExitFactoryReset {
				return false
			}
			d.factoryReset()
			return true
		},
	}
	go func() {
		defer close(phoneDone)
		sup.Run(phoneCtx)
	}()

	srv, err := d.serveUpdates(ctx)
	if err != nil {
		log.Error("update agent not started", "err", err)
	}

	healthy := make(chan struct{})
	wg.Go(func() { d.watchHealth(ctx, healthy) })
	if d.trial {
		wg.Go(func() {
			committed, err := update.Watch(ctx, boot.StatePath, d.slot, time.Duration(prov.System.TrialDeadline), healthy, func() {
				log.Error("trial boot not healthy in time: rebooting into the committed slot", "deadline", prov.System.TrialDeadline)
				d.requestShutdown(unix.LINUX_REBOOT_CMD_RESTART)
			})
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("trial watch", "err", err)
			case committed:
				log.Info("trial boot healthy: slot committed", "slot", d.slot, "version", version.Version)
				fmt.Printf("deskphone: slot %s committed (version %s)\n", d.slot, version.Version)
			}
		})
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR)
	defer signal.Stop(sigs)
	var cmd int
	select {
	case s := <-sigs:
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
		if s == unix.SIGINT || s == unix.SIGUSR1 {
			cmd = unix.LINUX_REBOOT_CMD_RESTART
		}
		log.Info("signal", "sig", s)
	case cmd = <-d.shutdown:
	}
	what := "power off"
	if cmd == unix.LINUX_REBOOT_CMD_RESTART {
		what = "reboot"
	}
	log.Info("shutting down: stopping the phone (it un-registers)", "then", what)
	stopPhone()
	<-phoneDone
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	cancel()
	wg.Wait()
	unix.Sync()
	if err := unix.Unmount(boot.DataDir, 0); err != nil {
		log.Warn("unmount data partition; remounting read-only", "err", err)
		_ = unix.Mount("", boot.DataDir, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	fmt.Printf("deskphone: %s\n", what)
	return cmd, nil
}

// network brings up loopback and the first Ethernet interface (static or
// DHCP), then renews the lease until ctx is done.
func (d *initd) network(ctx context.Context) {
	log := d.base.With("component", "net")
	if err := dhcp.LinkUp("lo"); err != nil {
		log.Error("loopback", "err", err)
	}
	var ifi *net.Interface
	for {
		var err error
		if ifi, err = dhcp.FirstEthernet(); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	if err := dhcp.LinkUp(ifi.Name); err != nil {
		log.Error("link up", "iface", ifi.Name, "err", err)
		return
	}
	host := d.prov.System.Hostname
	if host == "" {
		m := ifi.HardwareAddr
		host = fmt.Sprintf("deskphone-%02x%02x%02x", m[3], m[4], m[5])
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		log.Warn("hostname", "err", err)
	}
	up := func(l *dhcp.Lease, how string) {
		d.mu.Lock()
		d.addr = l.Addr.Addr()
		d.mu.Unlock()
		log.Info("network up", "iface", ifi.Name, "addr", l.Addr, "gw", l.Router, "dns", l.DNS, "via", how, "provision", l.ProvisionURL, "uptime", uptime().Round(time.Millisecond))
		if err := WriteProvisionURL(DHCPProvisionFile, l.ProvisionURL); err != nil {
			log.Warn("provisioning URL from DHCP not passed on", "err", err)
		}
		d.netOnce.Do(func() { close(d.netUp) })
	}
	if s := d.prov.System.Static; s != "" {
		l, err := staticLease(d.prov.System)
		if err == nil {
			err = dhcp.ApplyLease(ifi, l, "/tmp/resolv.conf")
		}
		if err != nil {
			log.Error("static network config", "err", err)
			return
		}
		up(l, "static")
		return
	}
	conn, err := dhcp.OpenPacketConn(ifi)
	if err != nil {
		log.Error("dhcp", "err", err)
		return
	}
	defer conn.Close()
	var xid [4]byte
	_, _ = rand.Read(xid[:])
	c := &dhcp.Client{Conn: conn, MAC: ifi.HardwareAddr, Hostname: host,
		XID: uint32(xid[0])<<24 | uint32(xid[1])<<16 | uint32(xid[2])<<8 | uint32(xid[3]), Logger: log}
	for ctx.Err() == nil {
		l, err := c.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("dhcp", "err", err)
			}
			return
		}
		if err := dhcp.ApplyLease(ifi, l, "/tmp/resolv.conf"); err != nil {
			log.Error("dhcp lease", "err", err)
		} else {
			up(l, "dhcp")
		}
		// Keep it: renew at T1, rebind at T2 (RFC 2131 section 4.4.5).
		last, err := c.Keep(ctx, l, func(nl *dhcp.Lease) {
			if nl.Addr == l.Addr && nl.Router == l.Router && slices.Equal(nl.DNS, l.DNS) && nl.ProvisionURL == l.ProvisionURL {
				return
			}
			if nl.Addr != l.Addr {
				dhcp.DropLease(ifi, l)
			}
			if err := dhcp.ApplyLease(ifi, nl, "/tmp/resolv.conf"); err != nil {
				log.Error("dhcp lease", "err", err)
			} else {
				up(nl, "dhcp renewal")
			}
			l = nl
		})
		if ctx.Err() != nil {
			// Clean shutdown (the phone has un-registered): give the
			// address back.
			if err := c.Release(last); err != nil {
				log.Warn("dhcp release", "err", err)
			} else {
				log.Info("dhcp lease released", "addr", last.Addr, "server", last.Server)
			}
			return
		}
		log.Warn("dhcp lease lost: dropping the address", "err", err)
		dhcp.DropLease(ifi, last)
		d.mu.Lock()
		d.addr = netip.Addr{}
		d.mu.Unlock()
	}
}

// staticLease turns the static settings into a lease.
func staticLease(s System) (*dhcp.Lease, error) {
	p, err := netip.ParsePrefix(s.Static)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("initd: static %q: want IPv4 address/prefix", s.Static)
	}
	l := &dhcp.Lease{Addr: p}
	if s.Gateway != "" {
		if l.Router, err = netip.ParseAddr(s.Gateway); err != nil {
			return nil, fmt.Errorf("initd: gateway: %w", err)
		}
	}
	for _, d := range s.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("initd: dns: %w", err)
		}
		l.DNS = append(l.DNS, a)
	}
	return l, nil
}

// healthPoll is how often watchHealth asks the phone until it is healthy.
const healthPoll = 200 * time.Millisecond

// watchHealth closes healthy once the phone is healthy: network up and,
// when its config has an enabled account, registered (asked of the
// phone's own API on loopback).
func (d *initd) watchHealth(ctx context.Context, healthy chan<- struct{}) {
	select {
	case <-ctx.Done():
		return
	case <-d.netUp:
	}
	check := func(ctx context.Context) (bool, string) { return true, "network up, no account" }
	if cfg, err := config.Load(d.prov.ConfigPath); err != nil {
		d.log.Warn("phone config unreadable: health is the network alone", "err", err)
	} else if _, ok := cfg.Primary(); ok && cfg.API.Listen != "" {
		_, port, _ := net.SplitHostPort(cfg.API.Listen)
		url := "http://127.0.0.1:" + port + "/api/status"
		check = func(ctx context.Context) (bool, string) {
			st, err := phoneStatus(ctx, url, cfg.API.Token)
			if err != nil {
				return false, err.Error()
			}
			return st == "registered", "registration " + st
		}
	}
	// Asked every 200 ms: only until the phone is healthy, a few seconds
	// of a boot, and each second of delay is one more of boot to
	// registered (it was every second: 0.4-1 s after the registration
	// on the QEMU tier's console) and of a trial slot left uncommitted.
	t := time.NewTicker(healthPoll)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ok, why := check(cctx)
		cancel()
		if ok {
			d.log.Info("phone healthy", "why", why, "uptime", uptime().Round(time.Millisecond))
			fmt.Printf("deskphone: healthy (%s) %.1f s after boot\n", why, uptime().Seconds())
			close(healthy)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// factoryReset removes the device's files and reboots.
func (d *initd) factoryReset() {
	d.log.Warn("factory reset: removing config, token and settings")
	fmt.Println("deskphone: factory reset")
	if err := FactoryReset(ConfigDir); err != nil {
		d.log.Error("factory reset", "err", err)
	}
	// The owner may now install an older signed build (the floor is set
	// again by the next committed update).
	if err := update.LowerFloor(boot.StatePath); err != nil {
		d.log.Error("factory reset: lowering the version floor", "err", err)
	}
	d.requestShutdown(unix.LINUX_REBOOT_CMD_RESTART)
}

// serveUpdates starts the update agent, the system endpoints and SSDP.
func (d *initd) serveUpdates(ctx context.Context) (*http.Server, error) {
	pubPEM, err := os.ReadFile(PublicKeyPath)
	if err != nil {
		return nil, err
	}
	pub, err := update.ParsePublicKey(pubPEM)
	if err != nil {
		return nil, err
	}
	slots := map[string]string{}
	for _, s := range []string{update.SlotA, update.SlotB} {
		dev, err := boot.FindPartition("/sys", "/dev", boot.SlotPartition(s))
		if err != nil {
			return nil, err
		}
		slots[s] = dev
	}
	var bt int64
	if st, err := update.ReadState(boot.StatePath); err == nil {
		bt = st.Slots[d.slot].BuildTime
	}
	agent, err := update.NewAgent(update.Config{
		Board: d.board, Version: version.Version, BuildTime: bt, PublicKey: pub, Token: d.prov.Token,
		Slots: slots, StatePath: boot.StatePath, Booted: d.slot, Logger: d.base,
		Reboot: func() { d.requestShutdown(unix.LINUX_REBOOT_CMD_RESTART) },
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/update", agent)
	mux.Handle("/update/", agent)
	sys := func(path string, f func()) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			if !TokenMatches(r.Header.Get("Authorization"), d.prov.Token) {
				http.Error(w, `{"error":"missing or wrong token"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintln(w, `{"ok":true}`)
			f()
		})
	}
	sys("/system/reboot", func() { d.requestShutdown(unix.LINUX_REBOOT_CMD_RESTART) })
	sys("/system/poweroff", func() { d.requestShutdown(unix.LINUX_REBOOT_CMD_POWER_OFF) })
	sys("/system/factory-reset", d.factoryReset)
	ln, err := net.Listen("tcp", d.prov.System.UpdateListen)
	if err != nil {
		return nil, err
	}
	// The agent bounds a push's body itself (a stall and an overall
	// deadline); the server bounds headers, idle keep-alives and header size.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 8 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("update agent", "err", err)
		}
	}()
	d.log.Info("update agent listening", "laddr", ln.Addr().String())
	go d.ssdp(ctx, agent, ln.Addr().(*net.TCPAddr).Port)
	return srv, nil
}

// ssdp answers flash discover once the network is up.
func (d *initd) ssdp(ctx context.Context, agent *update.Agent, port int) {
	select {
	case <-ctx.Done():
		return
	case <-d.netUp:
	}
	ifi, err := dhcp.FirstEthernet()
	if err != nil {
		return
	}
	conn, err := net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 1900})
	if err != nil {
		d.log.Warn("ssdp", "err", err)
		return
	}
	d.mu.Lock()
	addr := d.addr
	d.mu.Unlock()
	loc := fmt.Sprintf("http://%s/update/status", netip.AddrPortFrom(addr, uint16(port)))
	host, _ := os.Hostname()
	if err := update.ServeSSDP(ctx, conn, "uuid:deskphone-"+host, loc, agent.Status); err != nil && ctx.Err() == nil {
		d.log.Warn("ssdp", "err", err)
	}
}

// phoneStatus asks the phone's API for its registration state.
func phoneStatus(ctx context.Context, url, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("api: %s", resp.Status)
	}
	var st struct {
		Registration struct {
			State string `json:"state"`
		} `json:"registration"`
	}
	if err := jsonDecode(resp, &st); err != nil {
		return "", err
	}
	return st.Registration.State, nil
}
