package config

import (
	"fmt"
	"github.com/deskphone/phone/firmware/httpurl"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Provision configures zero-touch provisioning (provision): where the
// phone fetches its config from and how often (firmware/provision,
// docs/provisioning.md). The zero value takes the server from DHCP and
// checks it daily.
type Provision struct {
	// URL is the provisioning server (url): an http:// or https:// URL
	// of the directory holding phone.yaml and <mac>.yaml. It wins over a
	// URL from DHCP or from `flash provision`. Default: none.
	URL string
	// Interval is how often the phone checks the server again
	// (interval), 1m..720h, with up to a tenth of it (at most an hour)
	// of random jitter. Default (0): 24h.
	Interval time.Duration
	// IgnoreDHCP stops the phone from taking a server URL from DHCP
	// options 66, 150 or 43 (ignore_dhcp). Default: false.
	IgnoreDHCP bool
	// Username and Password, when set, answer the server's HTTP digest
	// (or, over HTTPS only, basic) challenge (username, password).
	Username, Password string
	// CAFile is a PEM file of CA certificates trusted for an https://
	// server (ca_file). Default: the system roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key shown to
	// an https:// server that asks for one (cert_file, key_file); both or
	// neither.
	CertFile, KeyFile string
}

// Firmware names the firmware the phone should run (firmware). A
// provisioning server sets it; when Version differs from the running
// version the phone fetches the signed bundle at URL and installs it
// with the update agent (trial boot, rollback). Both or neither.
type Firmware struct {
	// URL is the bundle's http:// or https:// URL (url).
	URL string
	// Version is the version the bundle holds (version).
	Version string
}

// Provisioning limits.
const (
	DefaultProvisionInterval = 24 * time.Hour
	MinProvisionInterval     = time.Minute
	MaxProvisionInterval     = 30 * 24 * time.Hour
)

// EffectiveInterval returns Interval, or its default when zero.
func (p Provision) EffectiveInterval() time.Duration {
	if p.Interval == 0 {
		return DefaultProvisionInterval
	}
	return p.Interval
}

func (d *decoder) provision(p *Provision) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.mapping(n, path, fields{
			"url":         d.str(&p.URL),
			"interval":    d.duration(&p.Interval),
			"ignore_dhcp": d.boolean(&p.IgnoreDHCP),
			"username":    d.str(&p.Username),
			"password":    d.str(&p.Password),
			"ca_file":     d.str(&p.CAFile),
			"cert_file":   d.str(&p.CertFile),
			"key_file":    d.str(&p.KeyFile),
		})
	}
}

func (d *decoder) firmware(f *Firmware) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		d.mapping(n, path, fields{
			"url":     d.str(&f.URL),
			"version": d.str(&f.Version),
		})
	}
}

// CheckHTTPURL reports whether s is an absolute http or https URL with a
// host, without credentials or a fragment (httpurl.Check).
func CheckHTTPURL(s string) error { return httpurl.Check(s) }

func (v *validator) provision(p Provision, f Firmware) {
	if p.URL != "" {
		if err := CheckHTTPURL(p.URL); err != nil {
			v.fail("provision.url", "%v", err)
		}
	}
	if p.Interval != 0 && (p.Interval < MinProvisionInterval || p.Interval > MaxProvisionInterval) {
		v.fail("provision.interval", "%s is out of range %s..%s (0 means %s)", p.Interval, MinProvisionInterval, MaxProvisionInterval, DefaultProvisionInterval)
	}
	v.text("provision.username", p.Username)
	v.text("provision.password", p.Password)
	if strings.ContainsAny(p.Username, ":\"\r\n") {
		v.fail("provision.username", "must not hold ':', '\"' or a line break")
	}
	if p.Password != "" && p.Username == "" {
		v.failNear("provision.username", "provision.password", "required with provision.password")
	}
	if (p.CertFile == "") != (p.KeyFile == "") {
		v.failNear("provision.cert_file", "provision.key_file", "cert_file and key_file go together")
	}
	if f.URL != "" || f.Version != "" {
		if err := CheckHTTPURL(f.URL); err != nil {
			v.failNear("firmware.url", "firmware", "%v", err)
		}
		if f.Version == "" {
			v.failNear("firmware.version", "firmware", "required with firmware.url")
		}
		v.text("firmware.version", f.Version)
	}
}

type (
	fileProvision struct {
		URL        string `yaml:"url,omitempty"`
		Interval   string `yaml:"interval,omitempty"`
		IgnoreDHCP bool   `yaml:"ignore_dhcp,omitempty"`
		Username   string `yaml:"username,omitempty"`
		Password   string `yaml:"password,omitempty"`
		CAFile     string `yaml:"ca_file,omitempty"`
		CertFile   string `yaml:"cert_file,omitempty"`
		KeyFile    string `yaml:"key_file,omitempty"`
	}
	fileFirmware struct {
		URL     string `yaml:"url"`
		Version string `yaml:"version"`
	}
)

// marshalProvision returns the provision and firmware sections to write,
// nil when they hold only defaults (so configs without them read the same).
func marshalProvision(p Provision, f Firmware) (*fileProvision, *fileFirmware) {
	var fp *fileProvision
	if p != (Provision{}) {
		fp = &fileProvision{URL: p.URL, IgnoreDHCP: p.IgnoreDHCP, Username: p.Username,
			Password: p.Password, CAFile: p.CAFile, CertFile: p.CertFile, KeyFile: p.KeyFile}
		if p.Interval != 0 {
			fp.Interval = formatDuration(p.Interval)
		}
	}
	var ff *fileFirmware
	if f != (Firmware{}) {
		ff = &fileFirmware{URL: f.URL, Version: f.Version}
	}
	return fp, ff
}

// Layer is one YAML document Overlay lays over a Config: Name (a URL, a
// file name) is what its problems name.
type Layer struct {
	Name string
	Data []byte
}

// Overlay lays layers over a copy of base, in order, and validates the
// result. Later layers win key by key: mappings merge key by key, a list
// of mappings (accounts) merges item by item (a later layer's
// accounts[0].password changes only that field of the first account), a
// list of plain values (codecs) and a plain value replace what was
// before. Keys no layer names keep base's values. The lists the layers
// name replace base's lists, so provisioned accounts replace the phone's
// own. Problems read "name:line: field: problem" with the name of the
// layer the field came from; fields from base carry no file or line.
// base is not changed; on any problem the result is nil.
func Overlay(base *Config, layers ...Layer) (*Config, error) {
	d := &decoder{src: &source{lines: map[string]int{}, files: map[string]string{}}, origin: map[*yaml.Node]string{}}
	var merged *yaml.Node
	m := &merger{origin: d.origin}
	for _, l := range layers {
		if len(l.Data) > MaxFileSize {
			return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, l.Name, MaxFileSize)
		}
		ld := &decoder{src: &source{file: l.Name, lines: map[string]int{}}}
		var doc yaml.Node
		second, err := unmarshalNode(l.Data, &doc)
		if err != nil {
			return nil, ld.syntaxError(err)
		}
		if second != nil {
			ld.fail(second.Line, "", ErrSyntax, "more than one YAML document (\"---\"); a config file holds one")
			return nil, joinProblems(ld.errs)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		top := doc.Content[0]
		m.mark(top, l.Name)
		if merged == nil {
			merged = top
			continue
		}
		merged = m.merge(merged, top)
		if m.over {
			return nil, joinProblems([]*FieldError{{File: l.Name, Problem: fmt.Sprintf("documents too complex to merge (more than %d nodes)", maxNodes), Err: ErrInvalid}})
		}
	}
	c := base.Clone()
	c.src = d.src
	if merged != nil {
		d.config(merged, c)
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

// merger merges YAML node trees for Overlay, remembering the layer each
// key and list item came from.
type merger struct {
	origin map[*yaml.Node]string
	nodes  int
	over   bool // budget exceeded
}

// mark records name as the origin of n's keys and items, through
// mappings and lists (not through aliases: what an alias points at is
// marked where it is defined, in the same layer).
func (m *merger) mark(n *yaml.Node, name string) {
	if m.nodes++; m.nodes > maxNodes {
		m.over = true
		return
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if m.over {
				return
			}
			m.origin[c] = name
			m.mark(c, name)
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// merge returns a over-laid with b; it makes new container nodes and
// never changes a or b.
func (m *merger) merge(a, b *yaml.Node) *yaml.Node {
	if m.nodes++; m.nodes > maxNodes {
		m.over = true
		return b
	}
	ra, rb := deref(a), deref(b)
	if ra == nil || rb == nil || ra.Kind != rb.Kind {
		return b
	}
	switch rb.Kind {
	case yaml.MappingNode:
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: rb.Tag, Line: rb.Line, Column: rb.Column}
		index := map[string]int{} // key -> position of its value in out.Content
		for i := 0; i+1 < len(ra.Content); i += 2 {
			k := ra.Content[i]
			out.Content = append(out.Content, k, ra.Content[i+1])
			if k.Kind == yaml.ScalarNode {
				if _, dup := index[k.Value]; !dup {
					index[k.Value] = len(out.Content) - 1
				}
			}
		}
		for i := 0; i+1 < len(rb.Content) && !m.over; i += 2 {
			k, v := rb.Content[i], rb.Content[i+1]
			if j, ok := index[k.Value]; ok && k.Kind == yaml.ScalarNode {
				out.Content[j-1] = k // the later key: its line, its layer
				out.Content[j] = m.merge(out.Content[j], v)
				continue
			}
			out.Content = append(out.Content, k, v)
		}
		return out
	case yaml.SequenceNode:
		if !listOfMappings(ra) || !listOfMappings(rb) {
			return b
		}
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: rb.Tag, Line: rb.Line, Column: rb.Column}
		for i := 0; i < max(len(ra.Content), len(rb.Content)) && !m.over; i++ {
			switch {
			case i >= len(rb.Content):
				out.Content = append(out.Content, ra.Content[i])
			case i >= len(ra.Content):
				out.Content = append(out.Content, rb.Content[i])
			default:
				e := m.merge(ra.Content[i], rb.Content[i])
				m.origin[e] = m.origin[rb.Content[i]]
				out.Content = append(out.Content, e)
			}
		}
		return out
	}
	return b
}

func listOfMappings(n *yaml.Node) bool {
	for _, e := range n.Content {
		if e = deref(e); e == nil || e.Kind != yaml.MappingNode {
			return false
		}
	}
	return len(n.Content) > 0
}

// noteOrigin records the layer node n came from as the file of path
// (Overlay only).
func (d *decoder) noteOrigin(n *yaml.Node, path string) {
	if f, ok := d.origin[n]; ok {
		d.src.files[path] = f
	}
}

// fileOf returns the file path came from: that of path or its nearest
// ancestor with a recorded file (Overlay), else the source's file.
func (s *source) fileOf(path string) string {
	if s == nil {
		return ""
	}
	for p := path; p != "" && s.files != nil; {
		if f, ok := s.files[p]; ok {
			return f
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return s.file
}
