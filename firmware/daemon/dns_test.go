package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/voip/sip/resolve/resolvetest"
)

// TestBootWithoutDNS: the registrar is a name whose DNS server does not
// answer when phoned starts. The daemon keeps running and reports the
// registration failed with "cannot resolve"; once DNS answers, the SRV
// record leads the phone to tools/pbx and it registers.
func TestBootWithoutDNS(t *testing.T) {
	p := startPBX(t)
	d := resolvetest.New(t,
		fmt.Sprintf(`_sip._udp.pbx.test. 60 IN SRV 10 0 %d pbx1.pbx.test.`, p.Addr().Port()),
		`pbx1.pbx.test. 60 IN A 127.0.0.1`,
	)
	d.SetDown(true)
	tp := startPhoneWith(t, p, "1001", "pw1001", 45460, 440, func(c *config.Config) {
		c.Accounts[0].Registrar = "pbx.test"
		c.SIP.DNSServers = []string{d.Addr()}
	})
	waitFor(t, "registration failed: cannot resolve", 20*time.Second, func() bool {
		r := tp.d.Status().Registration
		return r.State == "failed" && strings.HasPrefix(r.Reason, "cannot resolve pbx.test")
	})
	select {
	case err := <-tp.done:
		t.Fatalf("phoned stopped without DNS: %v", err)
	default:
	}
	d.SetDown(false)
	waitFor(t, "registered once DNS answers", 30*time.Second, tp.registered)
}
