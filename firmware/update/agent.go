package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Config configures an Agent.
type Config struct {
	// Board is the running board's name; updates for others are refused.
	Board string
	// Version and BuildTime describe the running firmware.
	Version   string
	BuildTime int64
	// PublicKey is the key baked into the running image.
	PublicKey ed25519.PublicKey
	// Token is the device token every push must carry as
	// "Authorization: Bearer <token>". Required.
	Token string
	// Slots maps "A" and "B" to the file or block device holding each
	// root slot.
	Slots map[string]string
	// StatePath is the A/B record (see State).
	StatePath string
	// Booted is the slot the running firmware was booted from.
	Booted string
	// MaxSlotSize bounds a payload written to a regular file; a block
	// device is bounded by its size. Zero means no bound for files.
	MaxSlotSize int64
	// Reboot is called after a successful update has been answered; it
	// must return quickly (start the shutdown, do not wait for it). Nil
	// means the phone is rebooted some other way.
	Reboot func()
	Logger *slog.Logger
	// StallTimeout is how long a push's body may send nothing (default
	// 30 s) and BodyTimeout how long the whole body may take (default
	// 15 min); a push past either is answered 408 and gives up the push
	// lock.
	StallTimeout, BodyTimeout time.Duration
}

// Defaults for Config's body timeouts.
const (
	DefaultStallTimeout = 30 * time.Second
	DefaultBodyTimeout  = 15 * time.Minute
)

// Agent is the device side of an update: an http.Handler (see the package
// documentation for its endpoints).
type Agent struct {
	cfg  Config
	log  *slog.Logger
	busy sync.Mutex // held during a push; a second push gets 409
	mux  *http.ServeMux

	// locked, when set (tests), receives once a push holds the lock.
	locked chan<- struct{}
}

// Status is the document GET /update/status answers.
type Status struct {
	Board     string `json:"board"`
	Version   string `json:"version"`
	BuildTime int64  `json:"build_time"`
	// Slot is the slot running now.
	Slot string `json:"slot"`
	// Trial is true while the running slot is on trial.
	Trial bool `json:"trial"`
	// State is the A/B record as stored.
	State *State `json:"state,omitempty"`
}

// Result is the answer to a successful push.
type Result struct {
	Slot    string `json:"slot"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
	// SHA256 is the digest of what was read back from the slot.
	SHA256 string `json:"sha256"`
	Reboot bool   `json:"reboot"`
}

// NewAgent checks cfg and returns an Agent.
func NewAgent(cfg Config) (*Agent, error) {
	switch {
	case cfg.Board == "" || cfg.Version == "":
		return nil, errors.New("update: Board and Version are required")
	case len(cfg.PublicKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("%w: PublicKey missing", ErrBadKey)
	case cfg.Token == "":
		return nil, errors.New("update: a device Token is required")
	case cfg.Slots[SlotA] == "" || cfg.Slots[SlotB] == "":
		return nil, errors.New("update: Slots A and B are required")
	case cfg.StatePath == "":
		return nil, errors.New("update: StatePath is required")
	case !validSlot(cfg.Booted):
		return nil, fmt.Errorf("update: Booted slot %q", cfg.Booted)
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	a := &Agent{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "update")
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("GET /update/status", a.status)
	a.mux.HandleFunc("POST /update", a.push)
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Status returns the current status.
func (a *Agent) Status() Status {
	st := Status{Board: a.cfg.Board, Version: a.cfg.Version, BuildTime: a.cfg.BuildTime, Slot: a.cfg.Booted}
	if s, err := ReadState(a.cfg.StatePath); err == nil {
		st.State = s
		st.Trial = s.Trial == a.cfg.Booted
	}
	return st
}

// status answers GET /update/status, to the token holder only: the A/B
// record and versions tell an attacker which old builds the phone runs.
// (SSDP announces board, version and slot to find phones by.)
func (a *Agent) status(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
		unauthorized(w)
		return
	}
	writeJSON(w, http.StatusOK, a.Status())
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="phone"`)
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": ErrUnauthorized.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// authorized compares the request's bearer token with the device token
// in constant time, lengths included (both are hashed first).
func (a *Agent) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(a.cfg.Token))
	return ok && subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func httpCode(err error) int {
	switch {
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrBadSignature):
		return http.StatusForbidden
	case errors.Is(err, ErrTrialPending), errors.Is(err, ErrDowngrade), errors.Is(err, ErrBelowFloor):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadBundle), errors.Is(err, ErrBadManifest), errors.Is(err, ErrWrongBoard),
		errors.Is(err, ErrTruncated), errors.Is(err, ErrTooLong), errors.Is(err, ErrDigest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (a *Agent) push(w http.ResponseWriter, r *http.Request) {
	// The token first: a stranger neither takes the push lock nor learns
	// whether a push is under way.
	if !a.authorized(r) {
		a.log.Warn("update refused", "raddr", r.RemoteAddr, "err", ErrUnauthorized)
		unauthorized(w)
		return
	}
	if !a.busy.TryLock() {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "update: another update is in progress"})
		return
	}
	defer a.busy.Unlock()
	if a.locked != nil {
		a.locked <- struct{}{}
	}
	allow := r.URL.Query().Get("allow-downgrade")
	body := &timedBody{r: r.Body, rc: http.NewResponseController(w), stall: a.cfg.StallTimeout, end: time.Now().Add(a.cfg.BodyTimeout)}
	res, err := a.Install(nil, body, allow == "1" || allow == "true")
	if err != nil {
		a.log.Warn("update refused", "raddr", r.RemoteAddr, "err", err)
		// The connection closes after the answer. The server drains a
		// little of what is left of the body first (so the client can
		// read the answer rather than a reset), under the last read's
		// deadline; a client that stalled gets no drain at all.
		w.Header().Set("Connection", "close")
		if errors.Is(err, ErrBodyTimeout) {
			_ = body.rc.SetReadDeadline(time.Now())
		}
		writeJSON(w, httpCode(err), map[string]string{"error": err.Error()})
		return
	}
	_ = body.rc.SetReadDeadline(time.Time{})
	res.Reboot = a.cfg.Reboot != nil
	writeJSON(w, http.StatusOK, res)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if a.cfg.Reboot != nil {
		a.log.Info("rebooting into the trial slot", "slot", res.Slot, "version", res.Version)
		a.cfg.Reboot()
	}
}

// Install checks a bundle read from body and writes it into the inactive
// slot, then marks that slot for a trial boot. r carries the device token
// (nil skips the token check: for callers that authenticated otherwise).
func (a *Agent) Install(r *http.Request, body io.Reader, allowDowngrade bool) (*Result, error) {
	if r != nil && !a.authorized(r) {
		return nil, ErrUnauthorized
	}
	mb, sig, err := ReadBundleHeader(body)
	if err != nil {
		return nil, err
	}
	m, err := Verify(a.cfg.PublicKey, mb, sig)
	if err != nil {
		return nil, err
	}
	if m.Kind != KindUpdate {
		return nil, fmt.Errorf("%w: kind %q, want %q", ErrBadManifest, m.Kind, KindUpdate)
	}
	if m.Board != a.cfg.Board {
		return nil, fmt.Errorf("%w: update for %q, this is %q", ErrWrongBoard, m.Board, a.cfg.Board)
	}
	if !allowDowngrade && Newer(a.cfg.Version, a.cfg.BuildTime, m.Version, m.BuildTime) {
		return nil, fmt.Errorf("%w: %s is older than the running %s (allow-downgrade to force)", ErrDowngrade, m.Version, a.cfg.Version)
	}
	st, err := ReadState(a.cfg.StatePath)
	if err != nil {
		return nil, err
	}
	if f, ok := st.floor(a.cfg.Booted, a.cfg.Version, a.cfg.BuildTime); ok && Newer(f.Version, f.BuildTime, m.Version, m.BuildTime) {
		return nil, fmt.Errorf("%w: %s is older than %s (a factory reset lowers the floor)", ErrBelowFloor, m.Version, f.Version)
	}
	target := Other(a.cfg.Booted)
	if st.Trial == a.cfg.Booted || target == st.Committed {
		return nil, fmt.Errorf("%w: commit or roll back slot %s first", ErrTrialPending, a.cfg.Booted)
	}
	root, _ := m.Part("root")
	sum, err := a.writeSlot(a.cfg.Slots[target], root, body)
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", target, err)
	}
	// The slot holds the verified image: only now does the record change.
	if st.Slots == nil {
		st.Slots = map[string]SlotInfo{}
	}
	st.Trial, st.TrialBoots, st.RolledBack = target, DefaultTrialBoots, ""
	st.Slots[target] = SlotInfo{Version: m.Version, BuildTime: m.BuildTime, SHA256: sum, Size: root.Size}
	if err := WriteState(a.cfg.StatePath, st); err != nil {
		return nil, err
	}
	a.log.Info("update installed", "slot", target, "version", m.Version, "sha256", sum)
	return &Result{Slot: target, Version: m.Version, Size: root.Size, SHA256: sum}, nil
}

// writeSlot streams exactly p.Size bytes of body into path, checks the
// digest, syncs, reads the slot back and checks it again.
func (a *Agent) writeSlot(path string, p Part, body io.Reader) (string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	limit := a.cfg.MaxSlotSize
	if fi.Mode()&os.ModeDevice != 0 {
		if limit, err = f.Seek(0, io.SeekEnd); err != nil {
			return "", err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
	}
	if limit > 0 && p.Size > limit {
		return "", fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, p.Size, limit)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(body, p.Size))
	if err != nil {
		return "", fmt.Errorf("%w after %d of %d bytes: %w", ErrTruncated, n, p.Size, err)
	}
	if n < p.Size {
		return "", fmt.Errorf("%w: %d of %d bytes", ErrTruncated, n, p.Size)
	}
	var extra [1]byte
	if k, _ := io.ReadFull(body, extra[:]); k > 0 {
		return "", ErrTooLong
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return "", fmt.Errorf("%w: got %s, manifest %s", ErrDigest, got, p.SHA256)
	}
	if fi.Mode().IsRegular() {
		if err := f.Truncate(p.Size); err != nil {
			return "", err
		}
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	got, err := HashFile(path, 0, p.Size)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if got != p.SHA256 {
		return "", fmt.Errorf("%w: read back %s, manifest %s", ErrDigest, got, p.SHA256)
	}
	return got, nil
}

// HashFile returns the hex SHA-256 of size bytes of path from off.
func HashFile(path string, off, size int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, off, size))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("%w: %s holds %d of %d bytes", ErrTruncated, path, n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Equal reports whether two hex digests are the same, in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare(bytes.ToLower([]byte(a)), bytes.ToLower([]byte(b))) == 1
}

// timedBody reads a push's body with a read deadline on the connection
// before every read: StallTimeout from now, never past the body's end
// time. A deadline that passes fails the read with ErrBodyTimeout. Where
// the connection cannot take deadlines (a test recorder), it reads
// without.
type timedBody struct {
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
	end   time.Time
}

func (b *timedBody) Read(p []byte) (int, error) {
	d := time.Now().Add(b.stall)
	if b.end.Before(d) {
		d = b.end
	}
	_ = b.rc.SetReadDeadline(d)
	n, err := b.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %w", ErrBodyTimeout, err)
	}
	return n, err
}
