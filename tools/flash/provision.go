package flash

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/deskphone/phone/firmware/httpurl"
)

// Provision points a running phone at a provisioning server: it reads
// the phone's config through its API (GET /api/config, secrets
// redacted), sets provision.url to server ("" removes it, so the phone
// goes back to the URL DHCP names) and writes it back (PUT /api/config;
// the redacted secrets are kept by the phone). host is the API's
// host:port or base URL; token the device token. The phone checks the
// new server within 15 s (docs/provisioning.md).
func Provision(ctx context.Context, c *http.Client, host, token, server string) error {
	if server != "" {
		if err := httpurl.Check(server); err != nil {
			return fmt.Errorf("flash provision: %w", err)
		}
	}
	if c == nil {
		c = http.DefaultClient
	}
	do := func(method string, body []byte) ([]byte, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, baseURL(host)+"/api/config", rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("flash provision: %w", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return nil, fmt.Errorf("flash provision: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("flash provision: %s /api/config: %s: %s", method, resp.Status, strings.TrimSpace(string(b)))
		}
		return b, nil
	}
	b, err := do(http.MethodGet, nil)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("flash provision: the phone's config: %w", err)
	}
	p, _ := doc["provision"].(map[string]any)
	if p == nil {
		p = map[string]any{}
	}
	if server == "" {
		delete(p, "url")
	} else {
		p["url"] = server
	}
	doc["provision"] = p
	// Indented: one value a line, as the phone rewrites redacted secrets
	// in place.
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = do(http.MethodPut, out)
	return err
}
