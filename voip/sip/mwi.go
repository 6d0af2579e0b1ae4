package sip

import (
	"context"
	"fmt"
	"strings"

	"github.com/deskphone/phone/voip/msgsummary"
	siplib "github.com/emiago/sipgo/sip"
)

// MWIEvent reports the message-waiting state of a mailbox (RFC 3842):
// from a NOTIFY of a WatchMWI subscription, or an unsolicited one (Sub
// nil) as Asterisk sends them to registered phones.
type MWIEvent struct {
	// Sub is the subscription the NOTIFY belongs to, nil when unsolicited.
	Sub *Subscription
	// Waiting is the Messages-Waiting status: light the message lamp.
	Waiting bool
	// New and Old count voice messages; Urgent the new urgent ones.
	New, Old, Urgent int
	// Account is the Message-Account URI (the mailbox), empty when the
	// server did not name it.
	Account string
}

func (*MWIEvent) event() {}

// mwiEvent turns a parsed summary into the event.
func mwiEvent(s *Subscription, sum *msgsummary.Summary) *MWIEvent {
	v := sum.Voice()
	return &MWIEvent{Sub: s, Waiting: sum.Waiting, New: v.New, Old: v.Old, Urgent: v.NewUrgent, Account: sum.Account}
}

// mwiHandler parses message-summary bodies.
type mwiHandler struct{}

func (mwiHandler) mediaTypes() []string { return []string{msgsummary.MediaType} }
func (mwiHandler) reset()               {}
func (mwiHandler) parse(s *Subscription, _ string, body []byte) (func() (Event, bool), error) {
	sum, err := msgsummary.Parse(body)
	if err != nil {
		return nil, err
	}
	return func() (Event, bool) { return mwiEvent(s, sum), false }, nil
}

// WatchMWI subscribes to the message-summary event package (RFC 3842)
// for mailbox: a user or number at the account's domain, or a SIP URI;
// empty means our own address of record. Every NOTIFY is reported as an
// MWIEvent; the subscription is kept alive until its Close or the UA's.
func (u *UA) WatchMWI(mailbox string) (*Subscription, error) {
	if strings.TrimSpace(mailbox) == "" {
		aor := u.aor()
		mailbox = aor.String()
	}
	return u.subscribe(context.Background(), SubscribeOptions{
		Event: "message-summary", Accept: []string{msgsummary.MediaType}, Target: mailbox,
	}, mwiHandler{})
}

// onUnsolicitedMWI handles a message-summary NOTIFY outside any dialog
// (RFC 3842 §4 lets a server send them without a subscription; Asterisk
// does for every mailbox with a registered contact). Admission has
// checked the source already (the proxy, or an allowed peer). A body
// that does not parse gets 400 and changes nothing.
func (u *UA) onUnsolicitedMWI(req *sipRequest, tx siplib.ServerTransaction) {
	body := req.Body()
	if len(body) == 0 {
		u.respond(tx, req, 200, "OK")
		return
	}
	if mt := mediaTypeOf(req); mt != msgsummary.MediaType {
		res := u.newResponse(req, 415, "Unsupported Media Type")
		res.AppendHeader(siplib.NewHeader("Accept", msgsummary.MediaType))
		u.send(tx, res)
		return
	}
	sum, err := msgsummary.Parse(body)
	if err != nil {
		u.log.Warn("unsolicited MWI NOTIFY with a malformed body (400)", "raddr", req.MessageData.Source(), "err", err)
		u.respond(tx, req, 400, "Bad Request (body)")
		return
	}
	u.respond(tx, req, 200, "OK")
	u.log.Debug("unsolicited MWI", "waiting", sum.Waiting, "account", sum.Account)
	u.emit(mwiEvent(nil, sum))
}

// String describes the event for logs.
func (e *MWIEvent) String() string {
	return fmt.Sprintf("mwi waiting=%t new=%d old=%d urgent=%d account=%s", e.Waiting, e.New, e.Old, e.Urgent, e.Account)
}
