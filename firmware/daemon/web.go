package daemon

import (
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/initd"
	"github.com/deskphone/phone/firmware/web"
)

// webParts are what the API serves beside its actions (issue 15): the
// config store behind GET/PUT /api/config and the web admin page. Both
// are nil when the daemon was not told its config file
// (Options.ConfigPath): there is nowhere to save a change.
type webParts struct {
	store api.ConfigStore
	page  http.Handler
}

// newWeb builds the config store over the file at path (holding cfg, as
// loaded from it) and the web page on the daemon's actions and status.
// A phone whose API is reachable from the network and has no admin
// password gets a random one now: its hash is saved in the config and
// the password logged once, at WARN, for the installer to read on the
// console. Saved changes are applied while the phone runs (apply.go).
// Under initd (a device) the firmware page hands uploads, reboots and
// factory resets to initd's update agent on its default port.
func newWeb(d *Daemon, cfg *config.Config, path string, log *slog.Logger) (webParts, error) {
	if path == "" {
		return webParts{}, nil
	}
	store := newLiveStore(d, path, cfg)
	switch pw, err := web.FirstPassword(store, cfg.API.Listen, rand.Reader); {
	case err != nil:
		log.Warn("no web admin password, and none could be saved: the web page answers only on loopback", "config", path, "err", err)
	case pw != "":
		log.Warn("web admin password generated; change it on the web page's Admin page", "password", pw, "config", path)
	}
	var sys web.System
	if os.Getenv(initd.EnvChild) == "1" {
		// Under initd the update agent listens beside us, guarded by the
		// device token, which initd also makes the API's token.
		_, port, _ := net.SplitHostPort(initd.DefaultUpdateListen)
		sys = &web.Agent{URL: "http://" + net.JoinHostPort("127.0.0.1", port), Token: cfg.API.Token}
	}
	page, err := web.New(web.Config{
		Status: func() any { return d.Status() }, Actions: actions{d}, Store: store, System: sys, Logger: log,
		Trace: traceAPI{},
	})
	if err != nil {
		return webParts{}, err
	}
	return webParts{store: store, page: page}, nil
}
