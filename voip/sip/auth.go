package sip

import (
	"fmt"

	"github.com/deskphone/phone/voip/sip/digest"
	siplib "github.com/emiago/sipgo/sip"
)

// authState answers digest challenges (RFC 3261 §22, RFC 7616, RFC 8760)
// for one series of requests. It remembers the last challenge so later
// requests can be authorised pre-emptively with the nonce-count
// incremented (RFC 7616 §3.4: nc counts requests sent with one nonce).
type authState struct {
	chal   *digest.Challenge
	header string // "Authorization" or "Proxy-Authorization"
	nc     uint32
}

// challengeHeaders maps a 401/407 to the challenge and answer headers.
func challengeHeaders(code int) (chal, answer string) {
	if code == 407 {
		return "Proxy-Authenticate", "Proxy-Authorization"
	}
	return "WWW-Authenticate", "Authorization"
}

// update takes the challenge of a 401/407. It returns ErrAuthFailed when
// the request already carried a fresh answer and the server challenges
// again without stale=true: the password is wrong, and retrying would
// only loop (RFC 3261 §22.2 leaves it to the UA; we do not retry).
func (a *authState) update(res *sipResponse, answeredFresh bool) error {
	chName, ansName := challengeHeaders(res.StatusCode)
	var vals []string
	for _, h := range res.GetHeaders(chName) {
		vals = append(vals, h.Value())
	}
	ch, err := digest.Pick(vals)
	if err != nil {
		return fmt.Errorf("%w: %d without a usable challenge: %w", ErrAuthFailed, res.StatusCode, err)
	}
	if answeredFresh && !ch.Stale {
		return ErrAuthFailed
	}
	a.chal, a.header, a.nc = ch, ansName, 0
	return nil
}

// apply adds our answer to req (replacing an older one), incrementing the
// nonce count. It does nothing before the first challenge.
func (a *authState) apply(req *sipRequest, cr digest.Credentials) error {
	if a.chal == nil {
		return nil
	}
	a.nc++
	auth, err := a.chal.Respond(string(req.Method), req.Recipient.String(), req.Body(), cr, a.nc, digest.NewCnonce())
	if err != nil {
		return fmt.Errorf("sip: digest: %w", err)
	}
	req.RemoveHeader("Authorization")
	req.RemoveHeader("Proxy-Authorization")
	req.AppendHeader(siplib.NewHeader(a.header, auth.String()))
	return nil
}
