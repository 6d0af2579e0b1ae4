package gateway

import (
	"encoding/binary"
	"testing"
)

// FuzzPCPResponse: arbitrary datagrams to the PCP client never panic.
func FuzzPCPResponse(f *testing.F) {
	ok := make([]byte, pcpHeaderLen+pcpMapLen)
	ok[0], ok[1] = pcpVersion, pcpReply|pcpOpMap
	binary.BigEndian.PutUint32(ok[4:8], 120)
	copy(ok[24:36], "nonce-nonce!")
	ok[36] = pcpProtoUDP
	binary.BigEndian.PutUint16(ok[40:42], 16384)
	f.Add(ok)
	f.Add([]byte{2, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, op := range []byte{pcpOpAnnounce, pcpOpMap} {
			_, _ = checkHeader(b, op)
		}
		_, _ = parseMapResponse(b, [12]byte([]byte("nonce-nonce!")), 16384)
	})
}

// FuzzNATPMPResponse: arbitrary datagrams to the NAT-PMP client never
// panic, and nothing shorter than the answer's fixed size is accepted.
func FuzzNATPMPResponse(f *testing.F) {
	ext := make([]byte, natpmpExternalLen)
	ext[1] = natpmpReply | natpmpOpExternal
	copy(ext[8:12], []byte{203, 0, 113, 9})
	f.Add(ext)
	mp := make([]byte, natpmpMapLen)
	mp[1] = natpmpReply | natpmpOpMapUDP
	binary.BigEndian.PutUint16(mp[8:10], 16384)
	binary.BigEndian.PutUint16(mp[10:12], 50000)
	binary.BigEndian.PutUint32(mp[12:16], 120)
	f.Add(mp)
	f.Add([]byte{0, 129, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []struct {
			op   byte
			size int
		}{{natpmpOpExternal, natpmpExternalLen}, {natpmpOpMapUDP, natpmpMapLen}} {
			if ok, _ := checkNATPMP(b, c.op, c.size); ok && len(b) < c.size {
				t.Errorf("accepted %d bytes as an answer of %d", len(b), c.size)
			}
		}
	})
}

func TestCheckNATPMP(t *testing.T) {
	resp := make([]byte, natpmpMapLen)
	resp[1] = natpmpReply | natpmpOpMapUDP
	binary.BigEndian.PutUint16(resp[2:4], 3) // network failure
	if ok, err := checkNATPMP(resp, natpmpOpMapUDP, natpmpMapLen); !ok || err == nil {
		t.Errorf("result 3: ok %v err %v", ok, err)
	}
	if ok, _ := checkNATPMP(resp, natpmpOpExternal, natpmpExternalLen); ok {
		t.Error("opcode mismatch accepted")
	}
	if ok, _ := checkNATPMP(resp[:12], natpmpOpMapUDP, natpmpMapLen); ok {
		t.Error("short map answer accepted")
	}
	resp[0] = 2
	if ok, _ := checkNATPMP(resp, natpmpOpMapUDP, natpmpMapLen); ok {
		t.Error("version 2 (PCP) accepted")
	}
}

// FuzzSSDP: arbitrary SSDP answers never panic.
func FuzzSSDP(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://10.0.0.1:5000/rootDesc.xml\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if loc, ok := parseSSDP(b); ok && loc.Host == "" {
			t.Errorf("accepted a LOCATION without host: %q", b)
		}
	})
}

func TestParseSSDP(t *testing.T) {
	loc, ok := parseSSDP([]byte("HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://10.0.0.1:5000/rootDesc.xml\r\n\r\n"))
	if !ok || loc.String() != "http://10.0.0.1:5000/rootDesc.xml" {
		t.Errorf("%v %v", loc, ok)
	}
	for _, bad := range []string{
		"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nLOCATION: http://10.0.0.1/x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: file:///etc/passwd\r\n\r\n",
		"garbage",
	} {
		if _, ok := parseSSDP([]byte(bad)); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestCheckHeader(t *testing.T) {
	resp := make([]byte, pcpHeaderLen)
	resp[0], resp[1], resp[3] = pcpVersion, pcpReply|pcpOpMap, pcpNoResources
	if ok, err := checkHeader(resp, pcpOpMap); !ok || err == nil {
		t.Errorf("NO_RESOURCES: ok %v err %v", ok, err)
	}
	if ok, _ := checkHeader(resp, pcpOpAnnounce); ok {
		t.Error("opcode mismatch accepted")
	}
	resp[0] = 1
	if ok, _ := checkHeader(resp, pcpOpMap); ok {
		t.Error("version 1 accepted")
	}
}
