package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Forward is a QEMU user-networking port forward from the host's
// loopback to the guest.
type Forward struct{ Host, Guest int }

// MachineConfig describes one emulated phone.
type MachineConfig struct {
	// QEMU is the qemu-system-aarch64 binary (default from PATH).
	QEMU string
	// Kernel, Initrd and Disk are the boot partition's files and the
	// disk image (written to by the guest).
	Kernel, Initrd, Disk string
	// Cmdline is the kernel command line.
	Cmdline string
	// Memory in MiB (default 512); CPU model (default cortex-a53).
	Memory int
	CPU    string
	// Forwards are hostfwd rules on 127.0.0.1.
	Forwards []Forward
	// Console, when set, receives every console line as it arrives.
	Console io.Writer
}

// Args returns QEMU's command line for c: the virt machine under TCG,
// the console on the serial port, the disk and the network on virtio
// PCI, user-mode networking (a NAT: the guest is 10.0.2.15, the host's
// loopback is 10.0.2.2).
func (c MachineConfig) Args() []string {
	mem, cpu := c.Memory, c.CPU
	if mem == 0 {
		mem = 512
	}
	if cpu == "" {
		cpu = "cortex-a53"
	}
	netdev := "user,id=n0"
	for _, f := range c.Forwards {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", f.Host, f.Guest)
	}
	return []string{
		"-M", "virt", "-cpu", cpu, "-m", fmt.Sprint(mem), "-smp", "1",
		"-nographic", "-no-user-config", "-nodefaults", "-serial", "stdio", "-monitor", "none",
		"-kernel", c.Kernel, "-initrd", c.Initrd, "-append", c.Cmdline,
		"-drive", "if=none,file=" + c.Disk + ",format=raw,id=disk", "-device", "virtio-blk-pci,drive=disk",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,romfile=",
	}
}

// Machine is a running QEMU whose console is watched line by line.
type Machine struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed

	mu      sync.Mutex // guards following
	lines   []string
	changed chan struct{} // closed and replaced on each new line
}

// Start launches QEMU. The machine runs until it powers off, Kill is
// called, or ctx is done.
func Start(ctx context.Context, c MachineConfig) (*Machine, error) {
	bin := c.QEMU
	if bin == "" {
		bin = "qemu-system-aarch64"
	}
	cmd := exec.CommandContext(ctx, bin, c.Args()...)
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	m := &Machine{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if c.Console != nil {
				fmt.Fprintln(c.Console, line)
			}
			m.mu.Lock()
			m.lines = append(m.lines, line)
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
		m.err = cmd.Wait()
		close(m.done)
	}()
	return m, nil
}

// Done is closed when QEMU has exited.
func (m *Machine) Done() <-chan struct{} { return m.done }

// Err is QEMU's exit status once Done is closed.
func (m *Machine) Err() error { return m.err }

// Kill stops QEMU and waits for it.
func (m *Machine) Kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// Mark returns the number of console lines so far, for WaitFor.
func (m *Machine) Mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.lines)
}

// WaitFor waits for a console line from line number from on that contains
// substr, and returns it with the number of the line after it.
func (m *Machine) WaitFor(ctx context.Context, from int, substr string) (string, int, error) {
	for {
		m.mu.Lock()
		for i := from; i < len(m.lines); i++ {
			if strings.Contains(m.lines[i], substr) {
				l := m.lines[i]
				m.mu.Unlock()
				return l, i + 1, nil
			}
		}
		from = len(m.lines)
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-m.done:
			// Drain what was read before the exit.
			m.mu.Lock()
			n := len(m.lines)
			m.mu.Unlock()
			if n > from {
				continue
			}
			return "", from, fmt.Errorf("qemu: QEMU exited (%v) before %q", m.err, substr)
		case <-ctx.Done():
			return "", from, fmt.Errorf("qemu: waiting for %q: %w", substr, ctx.Err())
		}
	}
}

// Tail returns the last n console lines.
func (m *Machine) Tail(n int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.lines[max(0, len(m.lines)-n):], "\n")
}

// WaitExit waits for QEMU to exit within d.
func (m *Machine) WaitExit(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-m.done:
		return nil
	case <-t.C:
		return errors.New("qemu: QEMU still running")
	}
}

// CopyFile copies src to dst (the disk image each run writes to).
func CopyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
