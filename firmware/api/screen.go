package api

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"strconv"
)

// maxScale bounds GET /api/screen.png?scale=N.
const maxScale = 8

// screenRoutes serves the phone's screen when Config.Screen is set:
//
//	GET /api/screen.png[?scale=N]  the current frame as a PNG, N× (1–8)
//	GET /api/screen                a page showing it, refreshed, with keys
func (s *Server) screenRoutes(mux *http.ServeMux) {
	if s.cfg.Screen == nil {
		return
	}
	mux.HandleFunc("GET /api/screen.png", func(w http.ResponseWriter, r *http.Request) {
		scale := 1
		if v := r.URL.Query().Get("scale"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxScale {
				writeErr(w, http.StatusBadRequest, fmt.Errorf("scale must be 1 to %d", maxScale))
				return
			}
			scale = n
		}
		img := s.cfg.Screen()
		if img == nil {
			writeErr(w, http.StatusServiceUnavailable, errors.New("no frame yet"))
			return
		}
		var b bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(&b, scaled(img, scale)); err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /api/screen", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// The page's own origin is the API's: its requests pass guard.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'")
		_, _ = w.Write([]byte(screenPage))
	})
}

// scaled returns img enlarged n times (nearest neighbour); a paletted
// frame stays paletted, so its PNG stays one bit deep.
func scaled(img image.Image, n int) image.Image {
	if n == 1 {
		return img
	}
	b := img.Bounds()
	r := image.Rect(0, 0, b.Dx()*n, b.Dy()*n)
	if p, ok := img.(*image.Paletted); ok {
		out := image.NewPaletted(r, p.Palette)
		for y := range r.Dy() {
			for x := range r.Dx() {
				out.SetColorIndex(x, y, p.ColorIndexAt(b.Min.X+x/n, b.Min.Y+y/n))
			}
		}
		return out
	}
	out := image.NewRGBA(r)
	for y := range r.Dy() {
		for x := range r.Dx() {
			out.Set(x, y, img.At(b.Min.X+x/n, b.Min.Y+y/n))
		}
	}
	return out
}

// screenPage shows the screen, refreshing it every 100 ms, with the
// phone's keys as buttons (POST /api/key): enough to use an emulated
// phone from a browser. With a token set, only the picture works.
const screenPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>deskphone screen</title>
<style>
body{font-family:sans-serif;background:#222;color:#ddd;text-align:center}
img{image-rendering:pixelated;border:8px solid #111;border-radius:6px;background:#000}
button{min-width:4em;margin:2px;padding:6px}
</style></head><body>
<img id="s" src="/api/screen.png?scale=4" width="512" height="256" alt="phone screen">
<div>
<button data-k="soft1">&#9632;</button><button data-k="soft2">&#9632;</button><button data-k="soft3">&#9632;</button><button data-k="soft4">&#9632;</button>
</div><div>
<button data-k="back">Back</button><button data-k="up">&#9650;</button><button data-k="ok">OK</button>
<button data-k="menu">Menu</button>
</div><div>
<button data-k="left">&#9664;</button><button data-k="down">&#9660;</button><button data-k="right">&#9654;</button>
<button data-k="history">History</button><button data-k="contacts">Contacts</button>
</div><div>
<button data-k="1">1</button><button data-k="2">2</button><button data-k="3">3</button>
<button data-k="hold">Hold</button><button data-k="transfer">Transfer</button>
</div><div>
<button data-k="4">4</button><button data-k="5">5</button><button data-k="6">6</button>
<button data-k="conf">Conf</button><button data-k="swap">Swap</button>
</div><div>
<button data-k="7">7</button><button data-k="8">8</button><button data-k="9">9</button>
<button data-k="mute">Mute</button><button data-k="dnd">DND</button>
</div><div>
<button data-k="*">*</button><button data-k="0">0</button><button data-k="#">#</button>
<button data-k="speaker">Speaker</button><button data-h="off">Lift</button><button data-h="on">Hang up</button>
</div>
<script>
const img = document.getElementById("s");
let busy = false;
function refresh() {
  if (busy) return;
  busy = true;
  const next = new Image();
  next.onload = () => { img.src = next.src; busy = false; };
  next.onerror = () => { busy = false; };
  next.src = "/api/screen.png?scale=4&t=" + Date.now();
}
setInterval(refresh, 100);
for (const b of document.querySelectorAll("button")) {
  b.onclick = () => {
    const body = b.dataset.k ? {key: b.dataset.k} : {hook: b.dataset.h};
    fetch("/api/key", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)}).then(refresh);
  };
}
</script></body></html>
`
