package sip

import "github.com/deskphone/phone/voip/sdp"

// cnFormat is comfort noise (RFC 3389), offered with every call at the
// static payload type 13 (CN/8000, RFC 3551 §6). It pairs with every
// codec on an 8000 Hz RTP clock: G.711 and G.722. Received CN plays as
// noise in the far end's silences; we send it only with Config.VAD.
var cnFormat = sdp.Format{PT: 13, Name: "CN", Rate: 8000, Channels: 1}
