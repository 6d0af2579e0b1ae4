package natlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace a Lab creates; `make
// lab-clean` deletes the namespaces whose names start with "dpl-".
// DESKPHONE_NATLAB_PREFIX (which must also start with "dpl-" and be at
// most 6 characters, e.g. dpl-b-, for interface names to fit; make's
// LAB_PREFIX sets it) lets two labs run side by side on one machine, e.g.
// while developing. A prefix that breaks these rules is refused: falling
// back to the shared "dpl-" would let two labs tear down each other's
// namespaces.
var Prefix, prefixErr = labPrefix(os.Getenv("DESKPHONE_NATLAB_PREFIX"))

func labPrefix(p string) (string, error) {
	switch {
	case p == "":
		return "dpl-", nil
	case strings.HasPrefix(p, "dpl-") && len(p) <= 6:
		return p, nil
	}
	return "dpl-", fmt.Errorf("DESKPHONE_NATLAB_PREFIX %q: want dpl- and at most two more characters (e.g. dpl-b-)", p)
}

// Lab owns the namespaces and processes of one run.
type Lab struct {
	// Dir holds configs, logs and recordings.
	Dir string

	mu     sync.Mutex // guards following
	nss    []string
	procs  []*Proc
	closed bool
}

// New returns a Lab working in dir (created if needed).
func New(dir string) (*Lab, error) {
	if prefixErr != nil {
		return nil, prefixErr
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Lab{Dir: dir}, nil
}

// Check reports why the lab cannot run here, or nil: it needs root, the
// ip tool and permission to create a network namespace.
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("lab: needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "nft", "conntrack", "kamailio", "turnserver", "baresip", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("lab: %s not installed (make test-lab installs it)", tool)
		}
	}
	name := Prefix + "probe"
	_ = exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("lab: cannot create a network namespace: %v: %s", err, out)
	}
	return exec.Command("ip", "netns", "del", name).Run()
}

// Lock takes the machine-wide lock of this Prefix's lab (a file under
// /run/lock), so a second run with the same prefix fails at once instead
// of deleting and reusing the first one's namespaces. Closing the file
// releases it; so does the process ending.
func Lock() (*os.File, error) {
	dir := "/run/lock"
	if _, err := os.Stat(dir); err != nil {
		dir = os.TempDir()
	}
	f, err := os.OpenFile(filepath.Join(dir, "deskphone-lab-"+Prefix+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: another lab with prefix %s is running (%s): %w", Prefix, f.Name(), err)
	}
	return f, nil
}

// NS returns the full name of the lab namespace short.
func NS(short string) string { return Prefix + short }

// AddNS creates namespace short (full name Prefix+short) with its
// loopback up.
func (l *Lab) AddNS(short string) (string, error) {
	name := NS(short)
	_ = exec.Command("ip", "netns", "del", name).Run() // leftover of a killed run
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	l.mu.Lock()
	l.nss = append(l.nss, name)
	l.mu.Unlock()
	if err := l.Run(name, "ip", "link", "set", "lo", "up"); err != nil {
		return "", err
	}
	return name, nil
}

// Run runs a command inside namespace ns and returns its error with the
// output.
func (l *Lab) Run(ns string, args ...string) error {
	_, err := l.Output(ns, args...)
	return err
}

// Output runs a command inside namespace ns and returns its output.
func (l *Lab) Output(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	full := append([]string{"netns", "exec", ns}, args...)
	out, err := exec.CommandContext(ctx, "ip", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("[%s] %s: %v: %s", ns, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// RunStdin runs a command inside ns with input on its stdin (nft -f -).
func (l *Lab) RunStdin(ns, input string, args ...string) error {
	full := append([]string{"netns", "exec", ns}, args...)
	cmd := exec.Command("ip", full...)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("[%s] %s: %v: %s\ninput:\n%s", ns, strings.Join(args, " "), err, bytes.TrimSpace(out), input)
	}
	return nil
}

// DelNS deletes namespace name (created by AddNS) before the Lab closes.
func (l *Lab) DelNS(name string) error {
	l.mu.Lock()
	for i, n := range l.nss {
		if n == name {
			l.nss = append(l.nss[:i], l.nss[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %v: %s", name, err, out)
	}
	return nil
}

// Veth links namespace a (interface ifa) to namespace b (interface ifb)
// and brings both ends up.
func (l *Lab) Veth(a, ifa, b, ifb string) error {
	if out, err := exec.Command("ip", "-n", a, "link", "add", ifa, "type", "veth", "peer", "name", ifb, "netns", b).CombinedOutput(); err != nil {
		return fmt.Errorf("veth %s/%s-%s/%s: %v: %s", a, ifa, b, ifb, err, out)
	}
	if err := l.Run(a, "ip", "link", "set", ifa, "up"); err != nil {
		return err
	}
	return l.Run(b, "ip", "link", "set", ifb, "up")
}

// Proc is a process started in a namespace.
type Proc struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts a long-running command in namespace ns with its output in
// Dir/name.log. The process gets its own process group so Stop reaches
// its children.
func (l *Lab) Start(ns, name string, stdin *os.File, args ...string) (*Proc, error) {
	return l.StartIn(ns, name, "", stdin, args...)
}

// StartIn is Start with the process's working directory set to dir
// ("" keeps ours).
func (l *Lab) StartIn(ns, name, dir string, stdin *os.File, args ...string) (*Proc, error) {
	logPath := filepath.Join(l.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	full := append([]string{"netns", "exec", ns}, args...)
	cmd := exec.Command("ip", full...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process group: SIGTERM, then SIGKILL after 3 s. It is
// safe to call more than once.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// Tail returns the last n bytes of the process log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Close stops every process and deletes every namespace, in reverse
// order of creation. It returns the first error.
func (l *Lab) Close() error {
	l.mu.Lock()
	procs, nss := l.procs, l.nss
	l.procs, l.nss, l.closed = nil, nil, true
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
	var first error
	for i := len(nss) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", nss[i]).CombinedOutput(); err != nil && first == nil {
			first = fmt.Errorf("ip netns del %s: %v: %s", nss[i], err, out)
		}
	}
	return first
}

// labShort matches the short names a Lab gives its namespaces (see
// NewInternet and AddSite), so that Clean with the default prefix "dpl-"
// leaves alone the namespaces of a lab running with a longer prefix such
// as "dpl-b-".
var labShort = regexp.MustCompile(`^(inet|srv|probe|s[0-9]+-(ph|nat|cgn))$`)

// IsLabNS reports whether name is a namespace a Lab with Prefix creates.
func IsLabNS(name string) bool {
	short, ok := strings.CutPrefix(name, Prefix)
	return ok && labShort.MatchString(short)
}

// Clean deletes every namespace of this Prefix's lab (the leftovers of a
// killed run, see IsLabNS) and returns their names.
func Clean() ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !IsLabNS(f[0]) {
			continue
		}
		if err := exec.Command("ip", "netns", "del", f[0]).Run(); err != nil {
			return gone, fmt.Errorf("ip netns del %s: %w", f[0], err)
		}
		gone = append(gone, f[0])
	}
	return gone, nil
}

// inNS runs f on a thread that has entered namespace ns, and returns
// its result: the thread enters ns for f (socket(2), connect(2), bind(2)
// happen there) and goes back; a thread that cannot go back is discarded
// (it stays locked when its goroutine ends).
func inNS[T any](ns string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := f()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// ListenUDP opens a UDP socket on laddr inside namespace ns.
func ListenUDP(ns, laddr string) (*net.UDPConn, error) {
	return inNS(ns, func() (*net.UDPConn, error) {
		a, err := net.ResolveUDPAddr("udp4", laddr)
		if err != nil {
			return nil, err
		}
		return net.ListenUDP("udp4", a)
	})
}

// DialContext returns a dial function whose sockets live in namespace ns.
func DialContext(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return inNS(ns, func() (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		})
	}
}
