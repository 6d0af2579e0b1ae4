package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/update"
)

// MaxBundleTime bounds the download of one firmware bundle.
const MaxBundleTime = 15 * time.Minute

// firmware installs f when it names a version other than the running
// one, unless this phone rolled that version back or it failed before.
// Its outcome goes to Status.Firmware and the log.
func (p *Provisioner) firmware(ctx context.Context, f config.Firmware) {
	if f.URL == "" || f.Version == "" || f.Version == p.cfg.Version || p.cfg.Installer == nil {
		return
	}
	key := f.URL + "\x00" + f.Version
	if key == p.fwBad {
		return
	}
	err := p.pull(ctx, f)
	if ctx.Err() != nil {
		return
	}
	msg := "installed " + f.Version + "; rebooting into it on trial"
	if err != nil {
		if errors.Is(err, ErrRolledBack) || errors.Is(err, ErrRefused) {
			p.fwBad = key // a network failure is tried again at the next change
		}
		msg = fmt.Sprintf("%s not installed: %v", f.Version, err)
		p.log.Warn("provisioned firmware not installed; the running firmware is kept", "version", f.Version, "url", f.URL, "err", err)
	} else {
		p.log.Info("provisioned firmware installed", "version", f.Version, "url", f.URL)
	}
	p.mu.Lock()
	p.st.Firmware = msg
	p.mu.Unlock()
}

func (p *Provisioner) pull(ctx context.Context, f config.Firmware) error {
	rb, err := p.cfg.Installer.RolledBack(ctx)
	if err != nil {
		return fmt.Errorf("update agent: %w", err)
	}
	if rb != "" && rb == f.Version {
		return fmt.Errorf("%w: %s", ErrRolledBack, f.Version)
	}
	hc, err := NewHTTPClient(p.cfg.Store.Config().Provision, 0)
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, MaxBundleTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", p.userAgent())
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s", ErrHTTP, f.URL, resp.Status)
	}
	p.log.Info("fetching provisioned firmware", "version", f.Version, "url", f.URL, "size", resp.ContentLength)
	return p.cfg.Installer.Install(ctx, resp.Body)
}

// AgentInstaller is an Installer that hands bundles to an update agent
// over HTTP (initd's, beside phoned on a device), as `flash push` does.
type AgentInstaller struct {
	// URL is the agent's base URL, such as http://127.0.0.1:8081.
	URL string
	// Token is the device token.
	Token string
	// Client is nil for http.DefaultClient's transport without an
	// overall timeout (the context bounds a push).
	Client *http.Client
}

func (a *AgentInstaller) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	hc := a.Client
	if hc == nil {
		hc = &http.Client{}
	}
	return hc.Do(req)
}

// RolledBack reads the agent's A/B record: the version held by the slot
// last rolled back.
func (a *AgentInstaller) RolledBack(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	resp, err := a.do(ctx, http.MethodGet, "/update/status", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: status: %s", ErrHTTP, resp.Status)
	}
	var st update.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return "", fmt.Errorf("status: %w", err)
	}
	if st.State == nil || st.State.RolledBack == "" {
		return "", nil
	}
	return st.State.Slots[st.State.RolledBack].Version, nil
}

// Install posts the bundle to the agent (POST /update, no downgrade).
func (a *AgentInstaller) Install(ctx context.Context, bundle io.Reader) error {
	resp, err := a.do(ctx, http.MethodPost, "/update", bundle)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s", ErrRefused, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
