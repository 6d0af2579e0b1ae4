package api

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/netip"
	"strings"
	"testing"
)

func TestScreenPNG(t *testing.T) {
	frame := image.NewPaletted(image.Rect(0, 0, 128, 64), color.Palette{color.Gray{0}, color.Gray{255}})
	frame.SetColorIndex(3, 2, 1)
	var shown image.Image
	h := Handler(Config{Actions: &rec{}, Status: func() any { return nil }, Screen: func() image.Image { return shown }})
	if code, _ := do(t, h, "GET", "/api/screen.png", "", ""); code != 503 {
		t.Fatalf("no frame yet: %d, want 503", code)
	}
	shown = frame
	for _, tc := range []struct {
		query string
		w, h  int
	}{{"", 128, 64}, {"?scale=1", 128, 64}, {"?scale=4", 512, 256}} {
		code, body := do(t, h, "GET", "/api/screen.png"+tc.query, "", "")
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.query, code, body)
		}
		img, err := png.Decode(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Fatalf("%s: %v, want %dx%d", tc.query, b, tc.w, tc.h)
		}
		n := tc.w / 128
		for _, p := range []image.Point{{3 * n, 2 * n}, {3*n + n - 1, 2*n + n - 1}} {
			if r, _, _, _ := img.At(p.X, p.Y).RGBA(); r != 0xffff {
				t.Errorf("%s: pixel %v is dark, want lit", tc.query, p)
			}
		}
		if r, _, _, _ := img.At(0, 0).RGBA(); r != 0 {
			t.Errorf("%s: pixel (0,0) is lit", tc.query)
		}
		// A two-colour frame stays a one-bit PNG: small.
		if tc.query == "" && !bytes.Equal([]byte(body[24:26]), []byte{1, 3}) {
			t.Errorf("PNG bit depth/colour type %v, want 1-bit paletted", []byte(body[24:26]))
		}
	}
	for _, q := range []string{"?scale=0", "?scale=9", "?scale=x"} {
		if code, _ := do(t, h, "GET", "/api/screen.png"+q, "", ""); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if code, body := do(t, h, "GET", "/api/screen", "", ""); code != 200 || !strings.Contains(body, "/api/screen.png") {
		t.Errorf("page: %d", code)
	}
	// The token guards the screen like the rest of the API.
	h = Handler(Config{Listen: "0.0.0.0:8080", Token: "s3cret", Actions: &rec{}, Status: func() any { return nil },
		Screen: func() image.Image { return frame }, InterfaceAddrs: func() ([]netip.Addr, error) { return nil, nil }})
	if code, _ := do(t, h, "GET", "/api/screen.png", "", ""); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code, _ := do(t, h, "GET", "/api/screen.png", "", "s3cret"); code != 200 {
		t.Errorf("with the token: %d, want 200", code)
	}
}

func TestNoScreenNoRoute(t *testing.T) {
	h := Handler(Config{Actions: &rec{}, Status: func() any { return nil }})
	if code, _ := do(t, h, "GET", "/api/screen.png", "", ""); code != 404 {
		t.Errorf("without Config.Screen: %d, want 404", code)
	}
}
