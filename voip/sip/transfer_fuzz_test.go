package sip

import (
	"net/url"
	"testing"
)

// The seeds of these fuzz targets are in testdata/fuzz/<FuzzName>/ (go
// test reads them on every run) besides the few added here.

// FuzzReferTo: parseReferTo never panics; what it accepts is a sip, sips
// or tel target, and a Replaces it found survives being written back
// (escaped, as TransferReplacing writes it) and read again.
func FuzzReferTo(f *testing.F) {
	f.Add("<sip:carol@pbx.test>")
	f.Add(`"Carol" <sips:carol@[2001:db8::1]:5061;transport=tls?Replaces=a%40h%3Bto-tag%3D1%3Bfrom-tag%3D2&X=y>`)
	f.Add("tel:+1-555-0100;phone-context=example.com")
	f.Fuzz(func(t *testing.T, v string) {
		rt, err := parseReferTo(v)
		if err != nil {
			return
		}
		switch scheme(rt.uri) {
		case "sip", "sips", "tel":
		default:
			t.Fatalf("accepted scheme of %q", rt.uri)
		}
		if rt.replaces == nil {
			return
		}
		back, err := parseReferTo("<" + rt.target.String() + "?Replaces=" + escapeHeaderValue(rt.replaces.String()) + ">")
		if err != nil || back.replaces == nil || *back.replaces != *rt.replaces {
			t.Fatalf("Replaces %+v did not survive the round trip: %+v %v", *rt.replaces, back.replaces, err)
		}
	})
}

// FuzzReplaces: parseReplaces never panics, and what it accepts reads
// back the same from its String (RFC 3891 §6.1).
func FuzzReplaces(f *testing.F) {
	f.Add("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff")
	f.Add("abc;to-tag=1;from-tag=2;early-only")
	f.Add("abc;to-tag=1")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := parseReplaces(v)
		if err != nil {
			return
		}
		if r.callID == "" || r.toTag == "" || r.fromTag == "" {
			t.Fatalf("accepted %q with an empty part: %+v", v, r)
		}
		back, err := parseReplaces(r.String())
		if err != nil || back != r {
			t.Fatalf("%+v reads back as %+v, %v", r, back, err)
		}
		if dec, err := url.PathUnescape(escapeHeaderValue(r.String())); err != nil || dec != r.String() {
			t.Fatalf("escape of %q unescapes to %q, %v", r.String(), dec, err)
		}
	})
}

// FuzzSipfrag: parseSipfrag never panics; an accepted status line is
// 100-699 and reads back the same from its String.
func FuzzSipfrag(f *testing.F) {
	f.Add([]byte("SIP/2.0 100 Trying\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nContact: <sip:x@y>\r\n\r\n"))
	f.Add([]byte("SIP/2.0 486 Busy Here"))
	f.Add([]byte("INVITE sip:x@y SIP/2.0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseSipfrag(b)
		if err != nil {
			return
		}
		if fr.code < 100 || fr.code > 699 {
			t.Fatalf("accepted status %d", fr.code)
		}
		back, err := parseSipfrag([]byte(fr.String()))
		if err != nil || back != fr {
			t.Fatalf("%+v reads back as %+v, %v", fr, back, err)
		}
	})
}

// FuzzNameAddr: parseNameAddrs never panics; a display name written
// back with quote reads back the same.
func FuzzNameAddr(f *testing.F) {
	f.Add(`"Al \"Big\" \\ Smith" <sip:al@example.com>;tag=1, <tel:+15550100>`)
	f.Add("Zoë <sip:z@h>")
	f.Add("sip:a@b;tag=x")
	f.Fuzz(func(t *testing.T, v string) {
		nas, err := parseNameAddrs(v)
		if err != nil {
			return
		}
		for _, na := range nas {
			back, err := parseNameAddr(quote(na.Name) + " <" + na.URI + ">")
			if err != nil || back.Name != na.Name || back.URI != na.URI {
				t.Fatalf("%+v reads back as %+v, %v", na, back, err)
			}
		}
	})
}
