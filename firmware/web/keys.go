package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/deskphone/phone/firmware/config"
)

// keyRow is one busy lamp key on the Keys page: what the config holds,
// or what was typed when the form was refused.
type keyRow struct {
	N                       int // 1..config.MaxBLFKeys
	Key                     string
	Line                    int
	User, Label, PickupCode string
	Lamp                    string // the lamp's state from status, "" when unknown
}

// keyRows lays out blf1..blf8 from cfg, or from form when it is not nil.
func keyRows(cfg *config.Config, form url.Values, lamps map[string]string) []keyRow {
	rows := make([]keyRow, config.MaxBLFKeys)
	for i := range rows {
		rows[i] = keyRow{N: i + 1, Key: "blf" + strconv.Itoa(i+1)}
	}
	if cfg != nil {
		for _, k := range cfg.BLF {
			if i, ok := config.BLFKeyIndex(k.Key); ok {
				rows[i].Line, rows[i].User, rows[i].Label, rows[i].PickupCode = k.Line, k.User, k.Label, k.PickupCode
			}
		}
	}
	if form != nil {
		for i := range rows {
			n := strconv.Itoa(i + 1)
			rows[i].User = form.Get("user" + n)
			rows[i].Label = form.Get("label" + n)
			rows[i].PickupCode = form.Get("pickup" + n)
			rows[i].Line, _ = strconv.Atoi(form.Get("line" + n))
		}
	}
	for i := range rows {
		rows[i].Lamp = lamps[rows[i].Key]
	}
	return rows
}

// parseKeys reads the Keys form into cfg.BLF: a row with a user is a
// key, an empty one is none. The config's own validation checks users,
// labels, pickup codes and lines when it is saved.
func parseKeys(f url.Values, cfg *config.Config) error {
	var c checker
	var keys []config.BLFKey
	for i := 1; i <= config.MaxBLFKeys; i++ {
		n := strconv.Itoa(i)
		user := c.text(f, "user"+n)
		if user == "" {
			continue
		}
		hi := len(cfg.Accounts) - 1
		if hi < 0 {
			c.fail("line"+n, "add an account first: a key calls through one")
			continue
		}
		keys = append(keys, config.BLFKey{
			Key:        "blf" + n,
			Line:       c.number(f, "line"+n, 0, hi, 0),
			User:       user,
			Label:      c.text(f, "label"+n),
			PickupCode: strings.TrimSpace(c.text(f, "pickup"+n)),
		})
	}
	if err := c.err(); err != nil {
		return err
	}
	cfg.BLF = keys
	return nil
}

func (h *Handler) keyRoutes() {
	h.post("/keys", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		d := &pageData{Form: r.PostForm}
		c := h.cfg.Store.Config().Clone()
		if err := parseKeys(r.PostForm, c); err != nil {
			return "keys", d, err
		}
		msg, err := h.save(c)
		if err != nil {
			return "keys", d, err
		}
		return h.done(w, r, s, "/keys", "Busy lamp keys: "+msg)
	})
}
