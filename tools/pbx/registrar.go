package pbx

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of a user (RFC 3261 §10.3).
type Binding struct {
	User    string
	Contact sip.Uri
	// Params are the Contact header parameters other than expires
	// (for instance +sip.instance, reg-id).
	Params sip.HeaderParams
	// Expires is when the binding lapses; Updated when it was last
	// refreshed.
	Expires time.Time
	Updated time.Time
	// Source is the address the REGISTER came from, and Transport its
	// transport ("UDP", "TCP", "TLS"): where NATFix routes.
	Source    netip.AddrPort
	Transport string
	CallID    string
	CSeq      uint32

	seq uint64 // refresh order, breaks ties of Updated
}

// registrar is the location service: bindings per user.
type registrar struct {
	now func() time.Time

	mu     sync.Mutex // guards following
	byUser map[string][]*Binding
	seq    uint64
}

func newRegistrar(now func() time.Time) *registrar {
	return &registrar{now: now, byUser: make(map[string][]*Binding)}
}

// pruneLocked drops the user's expired bindings.
func (r *registrar) pruneLocked(user string, now time.Time) {
	bs := slices.DeleteFunc(r.byUser[user], func(b *Binding) bool { return !now.Before(b.Expires) })
	if len(bs) == 0 {
		delete(r.byUser, user)
		return
	}
	r.byUser[user] = bs
}

// lookup returns copies of the user's live bindings, most recently
// refreshed first.
func (r *registrar) lookup(user string) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(user, r.now())
	out := make([]Binding, 0, len(r.byUser[user]))
	for _, b := range r.byUser[user] {
		out = append(out, *b)
	}
	slices.SortStableFunc(out, func(a, b Binding) int { return -cmp.Compare(a.seq, b.seq) })
	return out
}

// byContact finds a live binding whose contact has the host and port of
// uri: how an in-dialog request to a registered contact is recognised.
func (r *registrar) byContact(uri sip.Uri) (Binding, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, bs := range r.byUser {
		for _, b := range bs {
			if now.Before(b.Expires) && strings.EqualFold(b.Contact.Host, uri.Host) && b.Contact.Port == uri.Port {
				return *b, true
			}
		}
	}
	return Binding{}, false
}

// update applies one REGISTER's contact changes: expiry 0 removes.
func (r *registrar) update(user string, changes []Binding, expires []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.pruneLocked(user, now)
	for i, c := range changes {
		key := c.Contact.String()
		idx := slices.IndexFunc(r.byUser[user], func(b *Binding) bool { return b.Contact.String() == key })
		if expires[i] == 0 {
			if idx >= 0 {
				r.byUser[user] = slices.Delete(r.byUser[user], idx, idx+1)
			}
			continue
		}
		c.Expires = now.Add(expires[i])
		c.Updated = now
		r.seq++
		c.seq = r.seq
		c.User = user
		if idx >= 0 {
			*r.byUser[user][idx] = c
		} else {
			r.byUser[user] = append(r.byUser[user], &c)
		}
	}
	if len(r.byUser[user]) == 0 {
		delete(r.byUser, user)
	}
}

// removeAll drops every binding of user (Contact: *).
func (r *registrar) removeAll(user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byUser, user)
}

// Bindings returns the live bindings of user (user@domain for one of
// Config.Domains), most recently refreshed first; calls go to the first.
func (s *Server) Bindings(user string) []Binding { return s.reg.lookup(user) }

// handleRegister implements the registrar (RFC 3261 §10.3).
func (s *Server) handleRegister(req *sip.Request, tx sip.ServerTransaction) {
	if s.cfg.OnRegister != nil {
		if o := s.cfg.OnRegister(req, false); o.Code != 0 {
			s.respondOverride(tx, req, o)
			return
		}
	}
	// Step 3: the To header holds the address-of-record.
	dom := s.domain(req.To().Address.Host)
	name := req.To().Address.User
	if _, ok := dom.users[name]; !ok {
		s.respond(tx, req, sip.StatusNotFound, "")
		return
	}
	user := dom.aor(name)
	// Steps 4 and 5: authenticate and authorise.
	authUser, ok := s.authenticate(req, tx, false)
	if !ok {
		return
	}
	if authUser != name {
		s.respond(tx, req, sip.StatusForbidden, "")
		return
	}
	if s.cfg.OnRegister != nil {
		if o := s.cfg.OnRegister(req, true); o.Code != 0 {
			s.respondOverride(tx, req, o)
			return
		}
	}
	// Step 6: the Contact header fields.
	defExpires := s.cfg.MaxExpires
	if DefaultExpires < defExpires {
		defExpires = DefaultExpires
	}
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			s.respond(tx, req, sip.StatusBadRequest, "Bad Expires")
			return
		}
		defExpires = time.Duration(n) * time.Second
	}
	contacts := req.GetHeaders("Contact")
	var changes []Binding
	var expires []time.Duration
	for _, h := range contacts {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			s.respond(tx, req, sip.StatusBadRequest, "Bad Contact")
			return
		}
		if ch.Address.Wildcard || ch.Address.Host == "*" {
			if len(contacts) != 1 || defExpires != 0 {
				s.respond(tx, req, sip.StatusBadRequest, "Bad Wildcard Contact")
				return
			}
			s.reg.removeAll(user)
			s.log.Info("unregistered all", "user", user)
			s.respond(tx, req, sip.StatusOK, "")
			return
		}
		exp := defExpires
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				s.respond(tx, req, sip.StatusBadRequest, "Bad Contact Expires")
				return
			}
			exp = time.Duration(n) * time.Second
		}
		// Step 7: too brief -> 423 with Min-Expires.
		if exp > 0 && exp < s.cfg.MinExpires {
			s.respond(tx, req, sip.StatusIntervalToBrief, "",
				sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.MinExpires/time.Second))))
			return
		}
		exp = min(exp, s.cfg.MaxExpires)
		params := ch.Params.Clone()
		params.Remove("expires")
		changes = append(changes, Binding{
			Contact:   *ch.Address.Clone(),
			Params:    params,
			Source:    source(req),
			Transport: strings.ToUpper(req.Transport()),
			CallID:    req.CallID().Value(),
			CSeq:      req.CSeq().SeqNo,
		})
		expires = append(expires, exp)
	}
	s.reg.update(user, changes, expires)
	// Step 8: 200 OK listing every current binding with its expiry.
	now := s.cfg.Now()
	bs := s.reg.lookup(user)
	hdrs := make([]sip.Header, 0, len(bs)+1)
	for _, b := range bs {
		p := b.Params.Clone()
		if p == nil {
			p = sip.NewParams()
		}
		p.Add("expires", strconv.Itoa(int((b.Expires.Sub(now)+time.Second/2)/time.Second)))
		hdrs = append(hdrs, &sip.ContactHeader{Address: b.Contact, Params: p})
	}
	hdrs = append(hdrs, sip.NewHeader("Date", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")))
	s.log.Info("registered", "user", user, "contacts", len(bs), "raddr", req.Source(), "transport", req.Transport())
	s.respond(tx, req, sip.StatusOK, "", hdrs...)
}
