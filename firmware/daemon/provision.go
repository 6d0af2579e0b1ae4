package daemon

import (
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/initd"
	"github.com/deskphone/phone/firmware/provision"
	"github.com/deskphone/phone/firmware/version"
)

// provisioner is zero-touch provisioning (firmware/provision,
// docs/provisioning.md) wired to the phone: the config store the API and
// web page save through, the URL initd's DHCP client passes on, and
// initd's update agent for firmware pulls. Nil (all methods are safe)
// when the phone has no config file to save to or no MAC to be known by.
type provisioner struct {
	p         *provision.Provisioner
	stopWatch func() // the DHCP file's watch (nil: none)
}

// newProvisioner builds the provisioner; it starts with start.
func newProvisioner(d *Daemon, cfg *config.Config, log *slog.Logger) *provisioner {
	if d.web.store == nil {
		return nil
	}
	mac := firstMAC()
	if mac == nil {
		log.Info("no network interface with a MAC address: provisioning is off")
		return nil
	}
	pc := provision.Config{Store: d.web.store, MAC: mac, Version: version.Version, Logger: log}
	// Whatever can change the server URL says so (issue 19: an idle
	// phone is woken only by its keepalives): the config store on every
	// save (liveStore.SaveConfig), on a device also inotify on initd's
	// DHCP file. Only when that watch cannot be set up does the
	// provisioner look again every 15 s.
	pc.ChangeNotified = true
	var prov atomic.Pointer[provision.Provisioner]
	var stopWatch func()
	if os.Getenv(initd.EnvChild) == "1" {
		// On a device: initd's DHCP client leaves the URL its lease
		// named; initd's update agent installs firmware; a config that
		// needs a restart restarts phoned (initd starts it again).
		pc.DHCP = func() string { return initd.ReadProvisionURL(initd.DHCPProvisionFile) }
		var err error
		stopWatch, err = watchFile(initd.DHCPProvisionFile, func() {
			if p := prov.Load(); p != nil {
				p.ServerChanged()
			}
		})
		if err != nil {
			log.Info("the DHCP provisioning URL is looked at every 15 s", "err", err)
			pc.ChangeNotified = false
		}
		_, port, _ := net.SplitHostPort(initd.DefaultUpdateListen)
		pc.Installer = &provision.AgentInstaller{URL: "http://" + net.JoinHostPort("127.0.0.1", port), Token: cfg.API.Token}
		pc.Restart = func() {
			log.Warn("restarting phoned for the provisioned config")
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		}
	}
	p, err := provision.New(pc)
	if err != nil {
		if stopWatch != nil {
			stopWatch()
		}
		log.Warn("provisioning is off", "err", err)
		return nil
	}
	prov.Store(p)
	return &provisioner{p: p, stopWatch: stopWatch}
}

// firstMAC returns the hardware address of the first interface that has
// an Ethernet-sized one and is not loopback (on a device, eth0).
func firstMAC() net.HardwareAddr {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 && len(ifi.HardwareAddr) == 6 {
			return ifi.HardwareAddr
		}
	}
	return nil
}

func (p *provisioner) start() {
	if p != nil {
		p.p.Start()
	}
}

func (p *provisioner) close() {
	if p != nil {
		if p.stopWatch != nil {
			p.stopWatch()
		}
		_ = p.p.Close()
	}
}

// serverChanged tells the provisioner the config was saved: its server
// URL may have changed.
func (p *provisioner) serverChanged() {
	if p != nil {
		p.p.ServerChanged()
	}
}

// status is the provisioning part of the status document, nil when off.
func (p *provisioner) status() *provision.Status {
	if p == nil {
		return nil
	}
	s := p.p.Status()
	return &s
}
