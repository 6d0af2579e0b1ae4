package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/deskphone/phone/firmware/config"
)

// ConfigStore reads and replaces the phone's configuration for
// GET, PUT and PATCH /api/config, the web page and provisioning.
type ConfigStore interface {
	// Config returns the configuration as saved, secrets included. The
	// caller must not change it (Clone it first).
	Config() *config.Config
	// SaveConfig validates c and saves it (atomically), then applies
	// what it can while the phone runs. It reports whether some of the
	// change takes effect only after phoned restarts. A config with
	// problems changes nothing.
	SaveConfig(c *config.Config) (restartRequired bool, err error)
}

// Redacted stands for a secret in GET /api/config (account and TURN
// passwords, the API token, the web password's hash). Sent back in a
// PUT, it keeps the secret the phone has.
const Redacted = "(redacted)"

// MaxConfigBytes bounds a PUT /api/config body (a config file is a few
// KiB).
const MaxConfigBytes = 64 << 10

// configFile is the name problems in a PUT body are reported under:
// "body:3: accounts[0].domain: required".
const configFile = "body"

// FileConfig is a ConfigStore over a config file that applies nothing:
// SaveConfig always reports restartRequired. phoned uses its own store,
// which applies a saved config while it runs (firmware/daemon/apply.go);
// FileConfig is for tools and tests with no phone behind them.
type FileConfig struct {
	path string

	mu  sync.Mutex // guards cur
	cur *config.Config
}

// NewFileConfig returns a store for the file at path, holding cur (the
// config phoned started with, loaded from path).
func NewFileConfig(path string, cur *config.Config) *FileConfig {
	return &FileConfig{path: path, cur: cur}
}

// Config returns the config last saved (or loaded).
func (f *FileConfig) Config() *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// SaveConfig validates c and writes it to the file with config.Save.
func (f *FileConfig) SaveConfig(c *config.Config) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := config.Save(f.path, c); err != nil {
		if len(config.Problems(err)) > 0 {
			return false, err
		}
		return false, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	f.cur = c
	return true, nil
}

// RedactConfig returns a copy of c with every secret replaced by
// Redacted (empty secrets stay empty: there is nothing to hide).
func RedactConfig(c *config.Config) *config.Config {
	r := c.Clone()
	hide := func(s *string) {
		if *s != "" {
			*s = Redacted
		}
	}
	for i := range r.Accounts {
		hide(&r.Accounts[i].Password)
	}
	hide(&r.NAT.TURN.Password)
	hide(&r.API.Token)
	hide(&r.Web.PasswordHash)
	return r
}

// ConfigDocument is the config as a generic document with the file's
// keys (what GET /api/config answers as JSON).
func ConfigDocument(c *config.Config) (map[string]any, error) {
	y, err := config.Marshal(c)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(y, &doc); err != nil {
		return nil, fmt.Errorf("api: config document: %w", err)
	}
	return doc, nil
}

// configContent accepts JSON or YAML. application/yaml is not a type a
// web page may send across origins without a CORS preflight (only
// text/plain and the form encodings are), so it is as safe as JSON.
func configContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return true
	}
	return false
}

// ConfigProblems is the answer to a PUT /api/config the phone refused:
// every problem, "body:line: field: problem".
type ConfigProblems struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems"`
}

func (s *Server) configRoutes(mux *http.ServeMux) {
	st := s.cfg.ConfigStore
	if st == nil {
		return
	}
	mux.HandleFunc("GET /api/config", func(w http.ResponseWriter, r *http.Request) {
		red := RedactConfig(st.Config())
		if wantsYAML(r) {
			y, err := config.Marshal(red)
			if err != nil {
				writeErr(w, http.StatusInternalServerError, err)
				return
			}
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(y)
			return
		}
		doc, err := ConfigDocument(red)
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, doc)
	})
	s.handleBody(mux, "PUT /api/config", configContent, "application/json or application/yaml", MaxConfigBytes,
		func(_ context.Context, _ *http.Request, body []byte) (int, any, error) {
			c, err := ParseConfigUpdate(body, st.Config())
			if err != nil {
				return problemsAnswer(err)
			}
			restart, err := st.SaveConfig(c)
			if err != nil {
				return problemsAnswer(err)
			}
			return http.StatusOK, map[string]any{"ok": true, "restart_required": restart}, nil
		})
	s.handleBody(mux, "PATCH /api/config", configContent, "application/json or application/yaml", MaxConfigBytes,
		func(_ context.Context, _ *http.Request, body []byte) (int, any, error) {
			c, err := ParseConfigPatch(body, st.Config())
			if err != nil {
				return problemsAnswer(err)
			}
			restart, err := st.SaveConfig(c)
			if err != nil {
				return problemsAnswer(PatchProblems(body, err))
			}
			return http.StatusOK, map[string]any{"ok": true, "restart_required": restart}, nil
		})
}

// problemsAnswer answers a refused config 400 with its problems, or
// passes other errors on.
func problemsAnswer(err error) (int, any, error) {
	ps := config.Problems(err)
	if len(ps) == 0 {
		return 0, nil, err
	}
	out := ConfigProblems{Error: "the config has problems; nothing was saved", Problems: make([]string, len(ps))}
	for i, p := range ps {
		out.Problems[i] = p.Error()
	}
	return http.StatusBadRequest, out, nil
}

// wantsYAML: ?format=yaml, or an Accept header that names YAML and not
// JSON.
func wantsYAML(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "yaml"
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "yaml") && !strings.Contains(a, "json")
}

// ParseConfigUpdate reads a whole config (YAML, or JSON, which is YAML)
// sent to replace cur: every Redacted secret is first replaced by the
// secret cur has there, then the result is parsed and checked as a
// config file is, its problems named "body:line: field: problem".
func ParseConfigUpdate(body []byte, cur *config.Config) (*config.Config, error) {
	body, err := keepSecrets(body, cur)
	if err != nil {
		return nil, err
	}
	c, err := config.Parse(configFile, body)
	if err != nil {
		return nil, err
	}
	// A Redacted left (an alias, say) would be saved as the secret.
	var left []error
	check := func(field, v string) {
		if v == Redacted {
			left = append(left, &config.FieldError{File: configFile, Field: field, Err: config.ErrInvalid,
				Problem: fmt.Sprintf("%s where the phone could not tell which secret to keep; send the secret", Redacted)})
		}
	}
	for i, a := range c.Accounts {
		check(fmt.Sprintf("accounts[%d].password", i), a.Password)
	}
	check("nat.turn.password", c.NAT.TURN.Password)
	check("api.token", c.API.Token)
	check("web.password_hash", c.Web.PasswordHash)
	if len(left) > 0 {
		return nil, errors.Join(left...)
	}
	return c, nil
}

// secretSpot is a Redacted scalar in a body and the secret it keeps.
type secretSpot struct {
	line, col int // 1-based, of the scalar's first character (its quote)
	keep      string
}

// keepSecrets replaces each Redacted secret in body by the current
// secret, written as a JSON string (a valid YAML double-quoted scalar
// without line breaks), so every other line and its number stay as sent.
// A Redacted account password keeps the password of the current account
// with the same user and domain, or else of the account at the same
// index with the same user (its domain edited); there is none to keep
// when the body's account is new, which is a problem at that line.
func keepSecrets(body []byte, cur *config.Config) ([]byte, error) {
	if !bytes.Contains(body, []byte(Redacted)) {
		return body, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return body, nil // config.Parse reports it
	}
	root := doc.Content[0]
	var spots []secretSpot
	var problems []*config.FieldError
	add := func(n *yaml.Node, keep string) {
		if n != nil && n.Kind == yaml.ScalarNode && n.Value == Redacted {
			spots = append(spots, secretSpot{n.Line, n.Column, keep})
		}
	}
	add(path(root, "nat", "turn", "password"), cur.NAT.TURN.Password)
	add(path(root, "api", "token"), cur.API.Token)
	add(path(root, "web", "password_hash"), cur.Web.PasswordHash)
	if accts := path(root, "accounts"); accts != nil && accts.Kind == yaml.SequenceNode {
		for i, a := range accts.Content {
			pw := path(a, "password")
			if pw == nil || pw.Kind != yaml.ScalarNode || pw.Value != Redacted {
				continue
			}
			user, domain := scalar(path(a, "user")), scalar(path(a, "domain"))
			found := false
			for _, c := range cur.Accounts {
				if c.User == user && strings.EqualFold(c.Domain, domain) {
					add(pw, c.Password)
					found = true
					break
				}
			}
			if !found && i < len(cur.Accounts) && cur.Accounts[i].User == user {
				// The same account at the same place, its domain edited.
				add(pw, cur.Accounts[i].Password)
				found = true
			}
			if !found {
				problems = append(problems, &config.FieldError{File: configFile, Line: pw.Line,
					Field: fmt.Sprintf("accounts[%d].password", i), Err: config.ErrInvalid,
					Problem: fmt.Sprintf("%s, but the phone has no account %s@%s whose password to keep; send the password", Redacted, user, domain)})
			}
		}
	}
	if len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}
	lines := bytes.SplitAfter(body, []byte("\n"))
	// In document order, then right to left within a line, so earlier
	// columns stay put (the secrets were found in a fixed order: in
	// compact JSON they all sit on one line, in any order).
	slices.SortFunc(spots, func(a, b secretSpot) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.col - b.col
	})
	for i := len(spots) - 1; i >= 0; i-- {
		sp := spots[i]
		if sp.line < 1 || sp.line > len(lines) {
			continue
		}
		ln := lines[sp.line-1]
		at := byteOffset(ln, sp.col)
		if at < 0 {
			continue
		}
		n := tokenLen(ln[at:])
		if n == 0 {
			// Written in a way we do not rewrite (escapes, a block
			// scalar): say so rather than save "(redacted)".
			return nil, &config.FieldError{File: configFile, Line: sp.line, Err: config.ErrInvalid,
				Problem: fmt.Sprintf("write %s as is (plain or quoted) to keep a secret", Redacted)}
		}
		q, _ := json.Marshal(sp.keep)
		fixed := append(append(append([]byte{}, ln[:at]...), q...), ln[at+n:]...)
		lines[sp.line-1] = fixed
	}
	return bytes.Join(lines, nil), nil
}

// tokenLen returns the length of the Redacted scalar at the start of b,
// plain or quoted, or 0.
func tokenLen(b []byte) int {
	for _, t := range []string{`"` + Redacted + `"`, `'` + Redacted + `'`, Redacted} {
		if bytes.HasPrefix(b, []byte(t)) {
			return len(t)
		}
	}
	return 0
}

// byteOffset turns yaml's 1-based column (in characters) into a byte
// offset in line, or -1.
func byteOffset(line []byte, col int) int {
	n := 1
	for i := range string(line) {
		if n == col {
			return i
		}
		n++
	}
	return -1
}

// path follows mapping keys from n; nil when a key is missing.
func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
