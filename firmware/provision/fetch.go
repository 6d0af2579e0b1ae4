package provision

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// DefaultTimeout bounds one request for a config file.
const DefaultTimeout = 30 * time.Second

// NewHTTPClient returns the client a Provisioner fetches with, from the
// provision section: the server's certificate checked against the
// system roots or CAFile, the client certificate shown when asked for,
// digest or (over https only) basic credentials, a redirect from https
// to http refused, each request bounded by timeout (streams of a
// firmware bundle are bounded by their context instead when timeout is
// 0).
func NewHTTPClient(p config.Provision, timeout time.Duration) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.CAFile != "" {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return nil, fmt.Errorf("provision.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("provision.ca_file %s: no PEM certificate", p.CAFile)
		}
		tc.RootCAs = pool
	}
	if p.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("provision.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{
		Proxy:                 nil, // a phone on a LAN talks to its server directly
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: DefaultTimeout,
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: &authTransport{base: tr, user: p.Username, password: p.Password},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect from https to %s refused", req.URL.Scheme)
			}
			return nil
		},
	}, nil
}

// cached is a file's last good answer, for conditional requests.
type cached struct {
	etag, modified string
	body           []byte // nil: the file did not exist
}

// fetched is the outcome of getting one file.
type fetched struct {
	url     string
	body    []byte // nil when the file does not exist (404)
	changed bool   // differs from the cached answer
}

// get fetches url, conditionally on c (nil: unconditionally), with the
// body bounded by config.MaxFileSize.
func get(ctx context.Context, hc *http.Client, url, userAgent string, c *cached) (fetched, *cached, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fetched{}, nil, fmt.Errorf("%s: %w", url, err)
	}
	req.Header.Set("Accept", "application/yaml, text/yaml, text/plain, */*")
	req.Header.Set("User-Agent", userAgent)
	if c != nil && c.body != nil {
		if c.etag != "" {
			req.Header.Set("If-None-Match", c.etag)
		}
		if c.modified != "" {
			req.Header.Set("If-Modified-Since", c.modified)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fetched{}, nil, fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		if c == nil || c.body == nil {
			return fetched{}, nil, fmt.Errorf("%w: %s: 304 to an unconditional request", ErrHTTP, url)
		}
		return fetched{url: url, body: c.body}, c, nil
	case http.StatusNotFound:
		return fetched{url: url, changed: c == nil || c.body != nil}, &cached{}, nil
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return fetched{}, nil, fmt.Errorf("%w: %s: %s", ErrAuth, url, resp.Status)
	default:
		return fetched{}, nil, fmt.Errorf("%w: %s: %s", ErrHTTP, url, resp.Status)
	}
	if resp.ContentLength > config.MaxFileSize {
		return fetched{}, nil, fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrTooLarge, url, resp.ContentLength, config.MaxFileSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, config.MaxFileSize+1))
	if err != nil {
		return fetched{}, nil, fmt.Errorf("%s: %w", url, err)
	}
	if len(body) > config.MaxFileSize {
		return fetched{}, nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, url, config.MaxFileSize)
	}
	if body == nil {
		body = []byte{}
	}
	nc := &cached{etag: resp.Header.Get("ETag"), modified: resp.Header.Get("Last-Modified"), body: body}
	changed := c == nil || c.body == nil || string(c.body) != string(body)
	return fetched{url: url, body: body, changed: changed}, nc, nil
}

// FileName returns the per-phone file's name for mac: lower-case hex
// without separators, ".yaml".
func FileName(mac []byte) string {
	var b strings.Builder
	for _, x := range mac {
		fmt.Fprintf(&b, "%02x", x)
	}
	return b.String() + ".yaml"
}

// fileURL joins a server URL (a directory, with or without a trailing
// slash) and a file name.
func fileURL(server, name string) string {
	return strings.TrimSuffix(server, "/") + "/" + name
}
