package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/deskphone/phone/"

// pkg is what go list says about one package of the module.
type pkg struct {
	ImportPath string
	Imports    []string // direct, without test files
	Deps       []string // transitive, without test files
	Error      *struct{ Err string }
}

// target is a platform the rules are checked for.
type target struct {
	name string
	env  []string
}

var targets = []target{
	{"host", nil},
	{"linux/arm64", []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}},
}

// goTool finds the go command (go test puts its own first in PATH).
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	return p
}

// list returns the module's packages on one target, by import path
// without the module prefix.
func list(t *testing.T, tg target) map[string]*pkg {
	t.Helper()
	cmd := exec.Command(goTool(t), "list", "-e", "-json=ImportPath,Imports,Deps,Error", "./...")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), tg.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: go list: %v\n%s", tg.name, err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: go list output: %v", tg.name, err)
		}
		if p.Error != nil && !strings.Contains(p.Error.Err, "build constraints exclude all Go files") {
			t.Errorf("%s: %s: %s", tg.name, p.ImportPath, p.Error.Err)
		}
		name, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		pkgs[name] = &p
	}
	if len(pkgs) == 0 {
		t.Fatalf("%s: go list found no packages of %s", tg.name, module)
	}
	return pkgs
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func underAny(path string, dirs ...string) bool {
	for _, d := range dirs {
		if under(path, d) {
			return true
		}
	}
	return false
}

// ours returns the module's packages among paths, without the prefix.
func ours(paths []string) []string {
	var r []string
	for _, p := range paths {
		if n, ok := strings.CutPrefix(p, module); ok {
			r = append(r, n)
		}
	}
	return r
}

// need returns a package the rules name; a missing one is a failure, so
// that a move does not silently retire a rule.
func need(t *testing.T, tg target, pkgs map[string]*pkg, name string) *pkg {
	t.Helper()
	p, ok := pkgs[name]
	if !ok {
		t.Errorf("%s: package %s not found: update the import rules if it moved", tg.name, name)
	}
	return p
}

// natStack reports whether an import path is part of the NAT stack.
func natStack(path string) bool {
	return strings.HasPrefix(path, "github.com/pion/") || strings.HasPrefix(path, "github.com/huin/goupnp")
}

// report fails for the forbidden dependencies of one package, naming a
// few.
func report(t *testing.T, tg target, name string, bad []string) {
	t.Helper()
	if len(bad) == 0 {
		return
	}
	few := bad[:min(len(bad), 4)]
	t.Errorf("%s: %s depends on %d packages it must not link, such as %s", tg.name, name, len(bad), strings.Join(few, ", "))
}

func TestImportRules(t *testing.T) {
	for _, tg := range targets {
		t.Run(strings.ReplaceAll(tg.name, "/", "-"), func(t *testing.T) {
			pkgs := list(t, tg)
			device := []string{"firmware", "hal", "voip", "portmgr", "board"}
			for _, name := range slices.Sorted(maps.Keys(pkgs)) {
				p := pkgs[name]
				// Device code never depends on a host tool.
				if underAny(name, device...) {
					for _, d := range ours(p.Deps) {
						if under(d, "tools") || under(d, "lab") {
							t.Errorf("%s: device package %s depends on host-side %s", tg.name, name, d)
						}
					}
				}
				// hal is a leaf.
				if under(name, "hal") {
					for _, d := range ours(p.Imports) {
						if !under(d, "hal") {
							t.Errorf("%s: %s imports %s: hal packages import nothing of ours outside hal", tg.name, name, d)
						}
					}
				}
				// The VoIP stack and the port manager do not know they run
				// in a phone: no firmware, no boards.
				if underAny(name, "voip", "portmgr") {
					for _, d := range ours(p.Imports) {
						if underAny(d, "firmware", "board") {
							t.Errorf("%s: %s imports %s: voip and portmgr import neither firmware nor board", tg.name, name, d)
						}
					}
				}
				// The phone's state machine drives calls through its own
				// interfaces, so it is tested with fakes alone.
				// The screen's UI is the same: a view model in, frames and
				// actions out, tested with golden frames.
				if name == "firmware/phone" || under(name, "firmware/ui") {
					for _, d := range ours(p.Imports) {
						if !under(d, "hal") && !(under(name, "firmware/ui") && under(d, "firmware/ui")) {
							t.Errorf("%s: %s imports %s: it imports only hal", tg.name, name, d)
						}
					}
				}
				// Boards hold facts and constructors over hal.
				if under(name, "board") {
					for _, d := range ours(p.Imports) {
						if underAny(d, "voip", "portmgr", "firmware") {
							t.Errorf("%s: %s imports %s: boards import only hal and board", tg.name, name, d)
						}
					}
				}
			}

			// The shared small pieces are leaves.
			for _, name := range []string{"firmware/cpio", "firmware/atomicfile", "firmware/initd/dhcp", "firmware/initd/ntp", "firmware/initd/ext4"} {
				if p := need(t, tg, pkgs, name); p != nil {
					for _, d := range ours(p.Imports) {
						t.Errorf("%s: leaf %s imports %s", tg.name, name, d)
					}
				}
			}

			// The config knows nothing of the port manager or the VoIP stack.
			if p := need(t, tg, pkgs, "firmware/config"); p != nil {
				var bad []string
				for _, d := range p.Deps {
					if n, ok := strings.CutPrefix(d, module); (ok && underAny(n, "portmgr", "voip")) || natStack(d) {
						bad = append(bad, d)
					}
				}
				report(t, tg, "firmware/config", bad)
			}

			// The loader and the host tools that flash and build images do
			// not link what they never use.
			for _, name := range []string{"firmware/initd/cmd/loader", "tools/cmd/flash", "tools/cmd/mkimage"} {
				p := need(t, tg, pkgs, name)
				if p == nil {
					continue
				}
				var bad []string
				for _, d := range p.Deps {
					if natStack(d) || strings.HasPrefix(d, "gopkg.in/yaml") {
						bad = append(bad, d)
					}
				}
				report(t, tg, name, bad)
			}
		})
	}
}
