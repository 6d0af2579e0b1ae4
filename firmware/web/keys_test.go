package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBLFKeysPage: the Keys page saves busy lamp keys into the config
// (an empty user is no key), shows them again, and a refused form keeps
// what was typed and saves nothing.
func TestBLFKeysPage(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	if w := b.get("/keys"); w.Code != 200 || !strings.Contains(w.Body.String(), `name="user8"`) {
		t.Fatalf("keys page: %d\n%s", w.Code, w.Body)
	}
	w := b.post("/keys", "/keys", url.Values{"user1": {"201"}, "label1": {"Bob"}, "line1": {"0"},
		"user3": {"carol@example.com"}, "pickup3": {"*8"}, "line3": {"0"}, "user2": {"  "}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", w.Code, w.Body)
	}
	k := e.store.Config().BLF
	if len(k) != 2 || k[0].Key != "blf1" || k[0].User != "201" || k[0].Label != "Bob" || k[1].Key != "blf3" || k[1].User != "carol@example.com" || k[1].PickupCode != "*8" {
		t.Errorf("saved %+v", k)
	}
	body := b.get("/keys").Body.String()
	if !strings.Contains(body, `name="user1" value="201"`) || !strings.Contains(body, `name="pickup3" value="*8"`) {
		t.Errorf("page after save:\n%s", body)
	}
	saves := e.store.saves
	for name, f := range map[string]url.Values{
		"pickup code":  {"user1": {"201"}, "pickup1": {"*8x"}},
		"no such line": {"user1": {"201"}, "line1": {"7"}},
		"bad user":     {"user1": {"bob smith"}},
		"long label":   {"user1": {"201"}, "label1": {strings.Repeat("L", 40)}},
	} {
		w := b.post("/keys", "/keys", f)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `class="error"`) {
			t.Errorf("%s: %d", name, w.Code)
		}
		if name == "pickup code" && !strings.Contains(w.Body.String(), `name="pickup1" value="*8x"`) {
			t.Errorf("%s: the refused form lost what was typed", name)
		}
	}
	if e.store.saves != saves || len(e.store.Config().BLF) != 2 {
		t.Errorf("a refused form saved: %d saves, %+v", e.store.saves-saves, e.store.Config().BLF)
	}
	// Emptying every user removes the keys.
	if w := b.post("/keys", "/keys", url.Values{}); w.Code != http.StatusSeeOther || len(e.store.Config().BLF) != 0 {
		t.Errorf("clear: %d %+v", w.Code, e.store.Config().BLF)
	}
}
