package rpiimage

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/tools/lab/tier"
)

// The tier's name and make target: the test runs only when DESKPHONE_TIER
// names "rpiimage" (make test-rpi-image sets it, with DESKPHONE_RPIIMAGE_DIR
// the image directory and DESKPHONE_RPIIMAGE_LOG the console log file).
const (
	tierName   = "rpiimage"
	tierTarget = "test-rpi-image"
)

// TestRPiBoot is the rpi image's smoke test (make test-rpi-image): it
// boots the image's kernel, device tree and boot stage under
// qemu-system-aarch64 -M raspi3b with a copy of phone.img as the SD card
// and no network device, and follows the console: the boot stage finds
// the SD card's data partition, makes its filesystem, verifies and boots
// slot A, initd starts as PID 1 on board rpi, and starts phoned. QEMU
// stands in for the Pi's GPU firmware (which it does not emulate): it
// loads vmlinuz, initrd.img and cmdline.txt, as config.txt tells the
// firmware to. Skipped unless DESKPHONE_TIER names the tier; then
// DESKPHONE_RPIIMAGE_DIR names the image directory (bin/image/rpi).
func TestRPiBoot(t *testing.T) {
	tier.Require(t, tierName, tierTarget)
	dir := tier.MustParam(t, tierName, "DIR", tierTarget)
	qemu, err := exec.LookPath("qemu-system-aarch64")
	if err != nil {
		t.Fatalf("qemu-system-aarch64: %v (make test-rpi-image installs qemu-system-arm)", err)
	}
	// The SD card: QEMU wants a power of two; the kernel reads the
	// primary GPT (the backup is then not at the end: it says so and
	// goes on, as on a real card larger than the image).
	img, err := os.ReadFile(filepath.Join(dir, "phone.img"))
	if err != nil {
		t.Fatal(err)
	}
	size := int64(1)
	for size < int64(len(img)) {
		size <<= 1
	}
	sd := filepath.Join(t.TempDir(), "sd.img")
	if err := os.WriteFile(sd, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sd, size); err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	// serial0 is the PL011 (ttyAMA0, Bluetooth on a real Pi 3); serial1
	// the mini UART on GPIO14/15, ttyS1: the image's console.
	cmd := exec.CommandContext(ctx, qemu, "-M", "raspi3b", "-m", "1G", "-nographic", "-no-user-config",
		"-monitor", "none", "-serial", "null", "-serial", "stdio", "-nic", "none",
		"-kernel", filepath.Join(dir, "vmlinuz"), "-initrd", filepath.Join(dir, "initrd.img"),
		"-dtb", filepath.Join(dir, "bootfiles", "bcm2837-rpi-3-b.dtb"),
		"-append", strings.TrimSpace(string(cmdline)),
		"-drive", "if=sd,format=raw,file="+sd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	var logw io.Writer = io.Discard
	if ld := tier.Param(tierName, "LOG"); ld != "" {
		f, err := os.Create(ld)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		logw = f
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	steps := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"the boot stage finds the SD card's data partition", regexp.MustCompile(`msg="data partition" component=loader dev=/dev/mmcblk0p4`)},
		{"makes its filesystem", regexp.MustCompile(`data partition is blank: making its filesystem.*dev=/dev/mmcblk0p4`)},
		{"verifies and boots slot A", regexp.MustCompile(`msg=booting component=loader slot=A trial=false`)},
		{"initd runs as PID 1 on board rpi", regexp.MustCompile(`msg="deskphone starting" component=initd .*board=rpi slot=A`)},
		{"initd starts phoned", regexp.MustCompile(`msg=started component=supervisor child=phoned starts=1`)},
	}
	next := 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var tail []string
	for next < len(steps) && sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		io.WriteString(logw, line+"\n")
		tail = append(tail, line)
		if len(tail) > 30 {
			tail = tail[1:]
		}
		if steps[next].re.MatchString(line) {
			t.Logf("%6.1f s  %s", time.Since(start).Seconds(), steps[next].what)
			next++
		}
	}
	if next < len(steps) {
		t.Fatalf("console never showed: %s (after %.0f s; ctx %v); last lines:\n%s",
			steps[next].what, time.Since(start).Seconds(), ctx.Err(), strings.Join(tail, "\n"))
	}
	t.Logf("booted to phoned in %.1f s (QEMU raspi3b, TCG)", time.Since(start).Seconds())
}
