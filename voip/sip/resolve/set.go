package resolve

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// DefaultHold is how long a failed target is avoided when neither the
// SetConfig nor the failure (Retry-After) says otherwise.
const DefaultHold = 5 * time.Minute

// defaultRetryResolve is how soon a resolution that failed is tried
// again while the old targets are still used.
const defaultRetryResolve = 30 * time.Second

// SetConfig configures a Set.
type SetConfig struct {
	// Hold is how long a failed target is avoided; zero means
	// DefaultHold.
	Hold time.Duration
	// RetryResolve is how soon a failed re-resolution is tried again
	// while the previous targets stay in use; zero means 30 s.
	RetryResolve time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Usable, when set, says whether the phone can reach an address at
	// all (it has a source address of its family). Pick passes over the
	// targets it refuses while another is available: with IPv6 first in
	// the answer (RFC 8305 §4), a network without IPv6 goes to the IPv4
	// target at once instead of after a timeout.
	Usable func(netip.Addr) bool
}

// Set is the failover state of one server name (RFC 3263 §4.3): its
// resolved targets in order, which of them failed recently, and when the
// answer expires. Pick gives the target to use; Failed moves on from one
// that timed out, answered 503 or gave a transport error. It is safe for
// concurrent use.
type Set struct {
	r   *Resolver
	q   Query
	cfg SetConfig

	mu       sync.Mutex // guards following
	targets  []Target
	resolved bool
	expires  time.Time // zero: never (IP literal)
	stale    bool      // resolve again at the next Pick (after a failure)
	lastErr  error     // of the last resolution
	avoid    map[string]time.Time
	cur      Target
}

// NewSet returns the failover state for q; nothing is resolved until the
// first Pick.
func (r *Resolver) NewSet(q Query, cfg SetConfig) *Set {
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.RetryResolve <= 0 {
		cfg.RetryResolve = defaultRetryResolve
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Set{r: r, q: q, cfg: cfg, avoid: map[string]time.Time{}}
}

// Query is what the set resolves.
func (s *Set) Query() Query { return s.q }

// Pick returns the target to use now: the first in order that is not
// being avoided, resolving first when nothing was resolved yet, the
// answer's TTL ran out, or a target failed since. A re-resolution that
// fails keeps the previous targets (and is tried again later). When
// every target is being avoided, Pick returns the one whose hold ends
// first with allFailed set: the caller should back off before using it.
// The error is the resolution's, when there has never been an answer.
func (s *Set) Pick(ctx context.Context) (t Target, allFailed bool, err error) {
	s.mu.Lock()
	need := !s.resolved || s.stale || (!s.expires.IsZero() && !s.cfg.Now().Before(s.expires))
	s.mu.Unlock()
	if need {
		if err := s.Refresh(ctx); err != nil {
			s.mu.Lock()
			resolved := s.resolved
			s.mu.Unlock()
			if !resolved {
				return Target{}, false, err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	for k, until := range s.avoid {
		if !now.Before(until) {
			delete(s.avoid, k)
		}
	}
	if len(s.targets) == 0 {
		return Target{}, false, s.lastErr
	}
	if s.cfg.Usable != nil {
		for _, t := range s.targets {
			if _, avoided := s.avoid[t.key()]; !avoided && s.cfg.Usable(t.Addr.Addr()) {
				s.cur = t
				return t, false, nil
			}
		}
	}
	var soonest Target
	var soonestAt time.Time
	for _, t := range s.targets {
		until, avoided := s.avoid[t.key()]
		if !avoided {
			s.cur = t
			return t, false, nil
		}
		if soonestAt.IsZero() || until.Before(soonestAt) {
			soonest, soonestAt = t, until
		}
	}
	s.cur = soonest
	return soonest, true, nil
}

// Refresh resolves the name again now. On failure the previous targets
// stay and the error is returned; the next Pick tries again after
// SetConfig.RetryResolve.
func (s *Set) Refresh(ctx context.Context) error {
	res, err := s.r.Resolve(ctx, s.q)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	s.stale = false
	s.lastErr = err
	if err != nil {
		if s.resolved {
			s.expires = now.Add(s.cfg.RetryResolve)
		}
		return err
	}
	s.targets = s.stable(res.Targets)
	s.resolved = true
	s.expires = time.Time{}
	if res.TTL > 0 {
		s.expires = now.Add(res.TTL)
	}
	return nil
}

// stable keeps the target in use first among its equals (same
// transport and SRV priority), so that re-resolving a name whose records are
// chosen by weight does not move the UA between servers every TTL.
func (s *Set) stable(ts []Target) []Target {
	i := slices.IndexFunc(ts, func(t Target) bool { return t.key() == s.cur.key() })
	if i <= 0 {
		return ts
	}
	first := slices.IndexFunc(ts, func(t Target) bool {
		return t.Transport == ts[i].Transport && t.Priority == ts[i].Priority
	})
	if first < 0 || first == i {
		return ts
	}
	out := slices.Clone(ts)
	cur := out[i]
	copy(out[first+1:i+1], out[first:i])
	out[first] = cur
	return out
}

// Failed records that t timed out, answered 503 or gave a transport
// error: it is avoided for hold (zero: SetConfig.Hold; a Retry-After
// longer than that wins), and the name is resolved again at the next
// Pick (RFC 3263 §4.3).
func (s *Set) Failed(t Target, hold time.Duration) {
	if hold <= 0 {
		hold = s.cfg.Hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	until := s.cfg.Now().Add(hold)
	if old, ok := s.avoid[t.key()]; !ok || until.After(old) {
		s.avoid[t.key()] = until
	}
	s.stale = true
}

// Succeeded records that t answered: it is no longer avoided.
func (s *Set) Succeeded(t Target) {
	s.mu.Lock()
	delete(s.avoid, t.key())
	s.mu.Unlock()
}

// Addrs returns every address of every target of the last answer (for
// admission: requests from any of them come from the server).
func (s *Set) Addrs() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.Addr
	for _, t := range s.targets {
		if ip := t.Addr.Addr(); !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// TargetState is one target and its failover state.
type TargetState struct {
	Target
	// AvoidUntil is when a failed target may be used again; zero when
	// it is not being avoided.
	AvoidUntil time.Time
}

// State is a snapshot of a Set, for status reports.
type State struct {
	Targets []TargetState
	// Current is the target Pick returned last.
	Current Target
	// Expires is when the answer is resolved again (zero: never).
	Expires time.Time
	// Err is the last resolution's error, empty when it succeeded.
	Err string
}

// State returns a snapshot of the set.
func (s *Set) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Current: s.cur, Expires: s.expires}
	if s.lastErr != nil {
		st.Err = s.lastErr.Error()
	}
	now := s.cfg.Now()
	for _, t := range s.targets {
		ts := TargetState{Target: t}
		if until, ok := s.avoid[t.key()]; ok && now.Before(until) {
			ts.AvoidUntil = until
		}
		st.Targets = append(st.Targets, ts)
	}
	return st
}
