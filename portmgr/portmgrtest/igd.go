package portmgrtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FakeIGD is a UPnP Internet Gateway Device double (after tailscale's
// net/portmapper igd_test.go): an SSDP responder on a PacketConn and an
// HTTP handler serving the device description and WANIPConnection:1
// SOAP actions, with counters.
type FakeIGD struct {
	// SSDP is the socket M-SEARCH requests arrive on.
	SSDP net.PacketConn
	// HTTPURL is the base URL of the HTTP server serving Handler (set it
	// before Start; the LOCATION is HTTPURL + "/rootDesc.xml").
	HTTPURL  string
	External netip.Addr
	GatewayCounters

	mu     sync.Mutex
	leases map[uint16]*lease // by external port
	wg     sync.WaitGroup
}

// Start answers M-SEARCHes.
func (f *FakeIGD) Start() {
	f.leases = map[uint16]*lease{}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := f.SSDP.ReadFrom(buf)
			if err != nil {
				return
			}
			if !strings.HasPrefix(string(buf[:n]), "M-SEARCH") {
				continue
			}
			resp := "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n" +
				"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" +
				"USN: uuid:fake::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" +
				"EXT:\r\nSERVER: fake/1.0 UPnP/1.1\r\nLOCATION: " + f.HTTPURL + "/rootDesc.xml\r\n\r\n"
			_, _ = f.SSDP.WriteTo([]byte(resp), from)
		}
	}()
}

// Close stops the SSDP responder.
func (f *FakeIGD) Close() {
	_ = f.SSDP.Close()
	f.wg.Wait()
}

// Leases is the number of mappings held.
func (f *FakeIGD) Leases() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.leases)
}

const rootDesc = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>fake IGD</friendlyName><UDN>uuid:fake-1</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><UDN>uuid:fake-2</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><UDN>uuid:fake-3</UDN>
<serviceList><service>
<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL>
</service></serviceList>
</device></deviceList>
</device></deviceList>
</device>
</root>`

var soapArg = regexp.MustCompile(`<(New[A-Za-z]+)>([^<]*)</`)

// ServeHTTP serves the description and the SOAP control URL.
func (f *FakeIGD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/rootDesc.xml":
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, rootDesc)
		return
	case "/ctl/IPConn":
	default:
		http.NotFound(w, r)
		return
	}
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	_, name, _ := strings.Cut(action, "#")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	args := map[string]string{}
	for _, m := range soapArg.FindAllStringSubmatch(string(body), -1) {
		args[m[1]] = m[2]
	}
	out := ""
	switch name {
	case "GetExternalIPAddress":
		f.Probes.Add(1)
		out = "<NewExternalIPAddress>" + f.External.String() + "</NewExternalIPAddress>"
	case "AddPortMapping":
		ext, err1 := strconv.Atoi(args["NewExternalPort"])
		in, err2 := strconv.Atoi(args["NewInternalPort"])
		life, err3 := strconv.Atoi(args["NewLeaseDuration"])
		client, err4 := netip.ParseAddr(args["NewInternalClient"])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || args["NewProtocol"] != "UDP" {
			soapFault(w, 402, "Invalid Args")
			return
		}
		internal := netip.AddrPortFrom(client, uint16(in))
		f.mu.Lock()
		l, held := f.leases[uint16(ext)]
		switch {
		case held && l.internal != internal:
			f.mu.Unlock()
			soapFault(w, 718, "ConflictInMappingEntry")
			return
		case held:
			if time.Now().After(l.expires) {
				f.Lapsed.Add(1)
			}
			f.Renews.Add(1)
			l.expires = time.Now().Add(time.Duration(life) * time.Second)
		default:
			f.Maps.Add(1)
			f.leases[uint16(ext)] = &lease{internal: internal, ext: uint16(ext), expires: time.Now().Add(time.Duration(life) * time.Second)}
		}
		f.mu.Unlock()
	case "DeletePortMapping":
		ext, _ := strconv.Atoi(args["NewExternalPort"])
		f.mu.Lock()
		_, held := f.leases[uint16(ext)]
		delete(f.leases, uint16(ext))
		f.mu.Unlock()
		if !held {
			soapFault(w, 714, "NoSuchEntryInArray")
			return
		}
		f.Deletes.Add(1)
	default:
		soapFault(w, 401, "Invalid Action")
		return
	}
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:%sResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">%s</u:%sResponse></s:Body></s:Envelope>`, name, out, name)
}

func soapFault(w http.ResponseWriter, code int, desc string) {
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>%d</errorCode><errorDescription>%s</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`, code, desc)
}

// AddLANHost adds a host with ip on the site's LAN (call before Start),
// e.g. the gateway's own address 10.0.N.1 for a FakePCP.
func (s *Site) AddLANHost(t interface {
	Helper()
	Fatal(...any)
}, ip netip.Addr) *vnetNet {
	t.Helper()
	n, err := newNet(ip.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Router.AddNet(n); err != nil {
		t.Fatal(err)
	}
	return n
}
