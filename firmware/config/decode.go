package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest configuration file Load accepts.
const MaxFileSize = 1 << 20

// maxNodes bounds the YAML nodes one Parse visits, so that aliases cannot
// make a small file expensive (the "billion laughs" pattern).
const maxNodes = 200000

// maxProblems bounds the problems reported for one file.
const maxProblems = 200

// source remembers the file a Config came from and the line of each field.
type source struct {
	file  string
	lines map[string]int // field path -> line
	// files, when set (Overlay), names the file of a path and its
	// descendants where it differs from file.
	files map[string]string
}

// line returns the line of path, or of its nearest ancestor that has one.
func (s *source) line(path string) int {
	if s == nil {
		return 0
	}
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Load reads and parses the configuration file at path. Errors name the
// file as path, the line and the field.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, path, MaxFileSize)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration. filename is only used in
// error messages. Absent keys keep their defaults; an empty file yields
// Default. Every problem found is returned, joined with errors.Join, each
// a *FieldError reading "file:line: field: problem"; the Config is nil
// when there is any.
func Parse(filename string, data []byte) (*Config, error) {
	d := &decoder{src: &source{file: filename, lines: map[string]int{}}}
	var doc yaml.Node
	second, err := unmarshalNode(data, &doc)
	if err != nil {
		return nil, d.syntaxError(err)
	}
	if second != nil {
		d.fail(second.Line, "", ErrSyntax, "more than one YAML document (\"---\"); a config file holds one")
	}
	c := Default()
	c.src = d.src
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		d.config(doc.Content[0], c)
	}
	if _, set := d.src.lines["nat.upnp"]; !set {
		c.NAT.UPnP = DefaultUPnP(c.Board) // board.go
	}
	errs := d.errs
	if len(errs) < maxProblems {
		errs = append(errs, c.problems()...)
	}
	if len(errs) > 0 {
		return nil, joinProblems(errs)
	}
	return c, nil
}

// unmarshalNode parses the single YAML document in data into a node tree
// (left zero for an empty file). A second document is a problem: it
// would otherwise be ignored without a word. The YAML library is not
// expected to panic, but bad input must never take the daemon down, so a
// panic becomes a syntax error.
func unmarshalNode(data []byte, n *yaml.Node) (second *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			second, err = nil, fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &next, nil
}

// joinProblems sorts problems by line (stable, unknown lines last) and
// joins them.
func joinProblems(ps []*FieldError) error {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) syntaxError(err error) error {
	fe := &FieldError{File: d.src.file, Problem: err.Error(), Err: ErrSyntax, cause: err}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		if l, aerr := strconv.Atoi(m[1]); aerr == nil {
			fe.Line = l
			fe.Problem = "yaml: " + m[2]
		}
	}
	return joinProblems([]*FieldError{fe})
}

// decoder walks the node tree by the schema, recording lines and problems.
type decoder struct {
	src   *source
	errs  []*FieldError
	nodes int
	stop  bool // budget exceeded or too many problems: visit nothing more

	// origin names the file of nodes merged from several (Overlay).
	origin map[*yaml.Node]string
}

func (d *decoder) fail(line int, path string, sentinel error, format string, args ...any) {
	if d.stop {
		return
	}
	if len(d.errs) >= maxProblems {
		d.errs = append(d.errs, &FieldError{File: d.src.file, Line: line, Problem: "too many problems; stopping", Err: ErrInvalid})
		d.stop = true
		return
	}
	d.errs = append(d.errs, &FieldError{File: d.src.fileOf(path), Line: line, Field: path, Problem: fmt.Sprintf(format, args...), Err: sentinel})
}

// resolve follows aliases and counts the node against the budget. It
// returns nil when nothing more should be visited.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 8 {
			d.fail(n.Line, path, ErrInvalid, "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	if n == nil || d.stop {
		return nil
	}
	d.nodes++
	if d.nodes > maxNodes {
		d.fail(n.Line, path, ErrInvalid, "document too complex (more than %d nodes after expanding aliases)", maxNodes)
		d.stop = true
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// join appends key to a field path. A key that is not a plain name is
// quoted, so a message never carries raw control characters or breaks.
func join(path, key string) string {
	plainKey := key != ""
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			plainKey = false
			break
		}
	}
	if !plainKey {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields maps a YAML key to the function that decodes its value.
type fields map[string]func(n *yaml.Node, path string)

// mapping decodes a mapping node key by key. Unknown and duplicate keys
// are problems. A null node leaves everything at its default.
func (d *decoder) mapping(n *yaml.Node, path string, fs fields) {
	if n = d.resolve(n, path); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, ErrInvalid, "expected a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content) && !d.stop; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, path, ErrInvalid, "keys must be plain names, got %s", kindName(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			d.fail(k.Line, path, ErrInvalid, "merge keys (<<) are not supported")
			continue
		}
		p := join(path, k.Value)
		d.noteOrigin(k, p)
		fn, ok := fs[k.Value]
		if !ok {
			d.fail(k.Line, p, ErrUnknownKey, "unknown key (known keys: %s)", strings.Join(sortedKeys(fs), ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, p, ErrInvalid, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.src.lines[p] = k.Line
		fn(v, p)
	}
}

func sortedKeys(fs fields) []string {
	ks := make([]string, 0, len(fs))
	for k := range fs {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// scalar returns the scalar node of n, or nil (after reporting) when n is
// not a scalar, or nil without report when n is null.
func (d *decoder) scalar(n *yaml.Node, path string) *yaml.Node {
	if n = d.resolve(n, path); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, ErrInvalid, "expected a single value, got %s", kindName(n))
		return nil
	}
	return n
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s := d.scalar(n, path); s != nil {
			*dst = s.Value
		}
	}
}

// lower decodes a string and lower-cases it (enumerations).
func (d *decoder) lower(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s := d.scalar(n, path); s != nil {
			*dst = strings.ToLower(s.Value)
		}
	}
}

// intValue decodes an integer; ok is false for null or a reported problem.
func (d *decoder) intValue(n *yaml.Node, path string) (v int, line int, ok bool) {
	s := d.scalar(n, path)
	if s == nil {
		return 0, 0, false
	}
	var i int64
	var err error
	if s.ShortTag() == "!!int" {
		err = s.Decode(&i)
	} else {
		i, err = strconv.ParseInt(strings.TrimSpace(s.Value), 10, 64)
	}
	if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
		d.fail(s.Line, path, ErrInvalid, "%q is not an integer", s.Value)
		return 0, s.Line, false
	}
	return int(i), s.Line, true
}

func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v, _, ok := d.intValue(n, path); ok {
			*dst = v
		}
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		switch strings.ToLower(s.Value) {
		case "true", "yes", "on":
			*dst = true
		case "false", "no", "off":
			*dst = false
		default:
			d.fail(s.Line, path, ErrInvalid, "%q is not a boolean (true or false)", s.Value)
		}
	}
}

// parseDuration accepts Go duration syntax or an integer number of seconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		v, err := parseDuration(s.Value)
		if err != nil {
			d.fail(s.Line, path, ErrInvalid, "%q is not a duration (use Go syntax like \"25s\" or integer seconds)", s.Value)
			return
		}
		*dst = v
	}
}

func (d *decoder) port(dst *uint16) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, line, ok := d.intValue(n, path)
		if !ok {
			return
		}
		if v < 0 || v > 65535 {
			d.fail(line, path, ErrInvalid, "%d is not a port number (1024..65535)", v)
			return
		}
		*dst = uint16(v)
	}
}

// sequence decodes a list, calling item for each element. A null node
// keeps the default; otherwise reset is called first.
func (d *decoder) sequence(n *yaml.Node, path string, reset func(), item func(n *yaml.Node, path string)) {
	if n = d.resolve(n, path); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, ErrInvalid, "expected a list, got %s", kindName(n))
		return
	}
	reset()
	for i, e := range n.Content {
		if d.stop {
			return
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		d.src.lines[p] = e.Line
		d.noteOrigin(e, p)
		item(e, p)
	}
}

// strings decodes a list of strings; fold, if not nil, normalises each.
func (d *decoder) strings(dst *[]string, fold func(string) string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.sequence(n, path, func() { *dst = nil }, func(e *yaml.Node, p string) {
			var s string
			ok := false
			if sc := d.scalar(e, p); sc != nil {
				s, ok = sc.Value, true
			} else if e := d.resolve(e, p); e != nil && isNull(e) {
				d.fail(e.Line, p, ErrInvalid, "empty list item")
			}
			if !ok {
				return
			}
			if fold != nil {
				s = fold(s)
			}
			*dst = append(*dst, s)
		})
	}
}

func (d *decoder) stringMap(dst *map[string]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.resolve(n, path); n == nil || isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, ErrInvalid, "expected a mapping, got %s", kindName(n))
			return
		}
		m := map[string]string{}
		for i := 0; i+1 < len(n.Content) && !d.stop; i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k = d.resolve(k, path); k == nil {
				return
			}
			if k.Kind != yaml.ScalarNode || isNull(k) {
				d.fail(k.Line, path, ErrInvalid, "keys must be plain names, got %s", kindName(k))
				continue
			}
			p := join(path, k.Value)
			if _, dup := m[k.Value]; dup {
				d.fail(k.Line, p, ErrInvalid, "duplicate key (first set on line %d)", d.src.lines[p])
				continue
			}
			d.src.lines[p] = k.Line
			val := ""
			if s := d.scalar(v, p); s != nil {
				val = s.Value
			} else if d.stop {
				return
			}
			m[k.Value] = val
		}
		*dst = nil
		if len(m) > 0 {
			*dst = m
		}
	}
}

// config decodes the top-level mapping.
func (d *decoder) config(n *yaml.Node, c *Config) {
	d.mapping(n, "", fields{
		"accounts": func(n *yaml.Node, path string) {
			d.sequence(n, path, func() { c.Accounts = nil }, func(e *yaml.Node, p string) {
				a := DefaultAccount()
				d.account(e, p, &a)
				c.Accounts = append(c.Accounts, a)
			})
		},
		"codecs":            d.strings(&c.Codecs, strings.ToUpper),
		"dtmf":              d.lower(&c.DTMF),
		"dtmf_payload_type": d.integer(&c.DTMFPayloadType),
		"ptime":             d.duration(&c.Ptime),
		"ports": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"sip":   d.portRange(&c.Ports.SIP.Min, &c.Ports.SIP.Max),
				"media": d.portRange(&c.Ports.Media.Min, &c.Ports.Media.Max),
			})
		},
		"nat": func(n *yaml.Node, path string) {
			t := &c.NAT
			d.mapping(n, path, fields{
				"stun_servers": d.strings(&t.STUNServers, nil),
				"turn": func(n *yaml.Node, path string) {
					d.mapping(n, path, fields{
						"server":    d.str(&t.TURN.Server),
						"username":  d.str(&t.TURN.Username),
						"password":  d.str(&t.TURN.Password),
						"fallbacks": d.strings(&t.TURN.Fallbacks, nil),
						"transport": d.str(&t.TURN.Transport),
						"ca_file":   d.str(&t.TURN.CAFile),
					})
				},
				"static_external":  d.str(&t.StaticExternal),
				"strategies":       d.strings(&t.Strategies, strings.ToLower),
				"keepalive":        d.duration(&t.Keepalive),
				"early_udp":        d.boolean(&t.EarlyUDP),
				"binding_lifetime": d.duration(&t.BindingLifetime),
				"change_check":     d.duration(&t.ChangeCheck),
				"media_timeout":    d.duration(&t.MediaTimeout),
				"upnp":             d.boolean(&t.UPnP),
				"ice":              d.boolean(&t.ICE),
			})
		},
		"audio": func(n *yaml.Node, path string) {
			a := &c.Audio
			d.mapping(n, path, fields{
				"input":       d.str(&a.Input),
				"output":      d.str(&a.Output),
				"sample_rate": d.integer(&a.SampleRate),
				"volume":      d.integer(&a.Volume),
				"mic_gain":    d.integer(&a.MicGain),
				"tones":       d.lower(&a.Tones),
				"vad":         d.boolean(&a.VAD),
			})
		},
		"dial_plan": func(n *yaml.Node, path string) {
			p := &c.DialPlan
			d.mapping(n, path, fields{
				"timeout":    d.duration(&p.Timeout),
				"terminator": d.str(&p.Terminator),
				"max_digits": d.integer(&p.MaxDigits),
			})
		},
		"board":         d.lower(&c.Board),
		"board_options": d.stringMap(&c.BoardOptions),
		"api": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"listen": d.str(&c.API.Listen),
				"token":  d.str(&c.API.Token),
			})
		},
		"log": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"level":  d.lower(&c.Log.Level),
				"format": d.lower(&c.Log.Format),
				"syslog": d.syslog(&c.Log.Syslog),
			})
		},
		"sip": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"accept_from":   d.lower(&c.SIP.AcceptFrom),
				"allow":         d.strings(&c.SIP.Allow, nil),
				"ring_timeout":  d.duration(&c.SIP.RingTimeout),
				"dns_servers":   d.strings(&c.SIP.DNSServers, nil),
				"failover_hold": d.duration(&c.SIP.FailoverHold),
			})
		},
		"history": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"file": d.str(&c.History.File),
				"size": d.integer(&c.History.Size),
			})
		},
		"phonebook": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"file": d.str(&c.Phonebook.File),
			})
		},
		"memory_limit": d.size(&c.MemoryLimit),
		"calls": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"max_calls":    d.integer(&c.Calls.MaxCalls),
				"call_waiting": d.boolean(&c.Calls.CallWaiting),
			})
		},
		"web": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"password_hash": d.str(&c.Web.PasswordHash),
			})
		},
		"blf":       d.blf(&c.BLF),
		"provision": d.provision(&c.Provision),
		"firmware":  d.firmware(&c.Firmware),
	})
}

// sizeUnits are the units a size may carry, binary and decimal.
var sizeUnits = []struct {
	name string
	n    int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// ParseSize reads a byte size with a unit ("64MiB", "100MB", "512KiB",
// "1GiB", "4096B") or a plain 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(s, u.name)
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || v < 0 || v > math.MaxInt64/u.n {
			return 0, errors.New("bad size")
		}
		return v * u.n, nil
	}
	return 0, errors.New("no unit")
}

func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s := d.scalar(n, path)
		if s == nil {
			return
		}
		v, err := ParseSize(s.Value)
		if err != nil {
			d.fail(s.Line, path, ErrInvalid, "%q is not a size (a whole number with a unit: B, KiB, MiB, GiB, KB, MB, GB; or 0)", s.Value)
			return
		}
		*dst = v
	}
}

func (d *decoder) portRange(lo, hi *uint16) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.mapping(n, path, fields{"min": d.port(lo), "max": d.port(hi)})
	}
}

func (d *decoder) account(n *yaml.Node, path string, a *Account) {
	if r := d.resolve(n, path); r != nil && isNull(r) {
		d.fail(r.Line, path, ErrInvalid, "empty account")
		return
	}
	d.mapping(n, path, fields{
		"user":           d.str(&a.User),
		"auth_user":      d.str(&a.AuthUser),
		"password":       d.str(&a.Password),
		"display_name":   d.str(&a.DisplayName),
		"domain":         d.str(&a.Domain),
		"registrar":      d.str(&a.Registrar),
		"outbound_proxy": d.str(&a.OutboundProxy),
		"transport":      d.lower(&a.Transport),
		"expires":        d.duration(&a.Expires),
		"tls_ca_file":    d.str(&a.TLSCAFile),
		"tls_cert_file":  d.str(&a.TLSCertFile),
		"tls_key_file":   d.str(&a.TLSKeyFile),
		"codecs":         d.strings(&a.Codecs, strings.ToUpper),
		"enabled":        d.boolean(&a.Enabled),

		"dnd":                     d.boolean(&a.DND),
		"dnd_code":                d.integer(&a.DNDCode),
		"forward_always":          d.str(&a.ForwardAlways),
		"forward_busy":            d.str(&a.ForwardBusy),
		"forward_no_answer":       d.str(&a.ForwardNoAnswer),
		"forward_no_answer_after": d.duration(&a.ForwardNoAnswerAfter),
		"mailbox":                 d.str(&a.Mailbox),
		"subscribe_mwi":           d.boolean(&a.SubscribeMWI),
		"srtp":                    d.lower(&a.SRTP),
		"srtp_over_insecure":      d.boolean(&a.SRTPOverInsecure),
		"srtp_keying":             d.lower(&a.SRTPKeying),
		"srtp_suites":             d.strings(&a.SRTPSuites, strings.ToUpper),
		"blf_list":                d.str(&a.BLFList),
	})
	if a.AuthUser == "" {
		a.AuthUser = a.User
	}
	if a.Registrar == "" {
		a.Registrar = a.Domain
	}
}
