package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/deskphone/phone/firmware/config"
)

// ParseConfigPatch reads a partial config (YAML, or JSON, which is YAML)
// and merges it into cur, as JSON Merge Patch (RFC 7396) merges: a
// mapping merges key by key, null removes a key (its default applies),
// anything else (a scalar, a list such as accounts) replaces what cur
// has. The result is checked as a config file is; each problem names
// the body's line of the field when the body has it ("body:4:
// accounts[0].domain: required"), else only the field. Redacted secrets
// keep cur's, as in ParseConfigUpdate.
func ParseConfigPatch(body []byte, cur *config.Config) (*config.Config, error) {
	body, err := keepSecrets(body, cur)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(body, &root); err != nil {
		return config.Parse(configFile, body) // its syntax error, with the line
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &config.FieldError{File: configFile, Line: 1, Err: config.ErrInvalid,
			Problem: "a PATCH body is one mapping (a JSON object) of the config's keys"}
	}
	var patch map[string]any
	if err := root.Decode(&patch); err != nil {
		return nil, &config.FieldError{File: configFile, Line: 1, Err: config.ErrSyntax, Problem: err.Error()}
	}
	base, err := ConfigDocument(cur)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	merged, err := yaml.Marshal(mergePatch(base, patch))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	c, err := ParseConfigUpdate(merged, cur)
	if err != nil {
		return nil, PatchProblems(body, err)
	}
	return c, nil
}

// PatchProblems renames the lines of the problems found in a config
// merged from a PATCH body (by ParseConfigPatch, or by the store's own
// checks of the result): the merged document's lines mean nothing to
// the client, so each problem gets the body's line of its field, or
// none when the body does not hold it. Other errors pass unchanged.
func PatchProblems(body []byte, err error) error {
	ps := config.Problems(err)
	if len(ps) == 0 {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(body, &root) != nil || root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return err
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		q := *p
		q.Line = 0
		if n := fieldNode(root.Content[0], p.Field); n != nil {
			q.Line = n.Line
		}
		errs[i] = &q
	}
	return errors.Join(errs...)
}

// mergePatch applies patch to target (RFC 7396 section 2) and returns
// the result; target's maps are changed in place.
func mergePatch(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = mergePatch(tv, pv)
		default:
			target[k] = v
		}
	}
	return target
}

// fieldNode finds a field path ("accounts[0].domain",
// "board_options.i2c_bus") in a mapping node, or the deepest part of it
// the body has; nil when the body has none of it.
func fieldNode(n *yaml.Node, field string) *yaml.Node {
	if field == "" {
		return nil
	}
	var found *yaml.Node
	for part := range strings.SplitSeq(field, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			if v, err := strconv.Atoi(part[i+1 : len(part)-1]); err == nil {
				idx = v
			}
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return found
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				found, next = n.Content[i], n.Content[i+1]
			}
		}
		if next == nil {
			return found
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return found
			}
			n = n.Content[idx]
			found = n
		}
	}
	return found
}
