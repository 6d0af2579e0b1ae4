package ui

import "fmt"

// ActionKind is what an Action asks the phone to do.
type ActionKind int

const (
	ActNone         ActionKind = iota
	ActAnswer                  // answer Call
	ActReject                  // reject Call
	ActHangup                  // end Call ("" : stop dialling)
	ActHold                    // hold Call
	ActResume                  // resume Call (the active one is held)
	ActSwap                    // swap the active and the held call
	ActConference              // join the active and the held call
	ActTransfer                // transfer the active call to Number; "" : attended, to the held call
	ActDial                    // dial Number on Line
	ActSend                    // send the digits typed so far
	ActSetDND                  // set DND on Line to On
	ActVolume                  // change the volume by Delta
	ActMute                    // toggle the microphone mute
	ActFactoryReset            // erase the settings (confirmed on screen)
)

var actionNames = [...]string{
	ActNone: "none", ActAnswer: "answer", ActReject: "reject", ActHangup: "hangup", ActHold: "hold",
	ActResume: "resume", ActSwap: "swap", ActConference: "conference", ActTransfer: "transfer",
	ActDial: "dial", ActSend: "send", ActSetDND: "dnd", ActVolume: "volume", ActMute: "mute",
	ActFactoryReset: "factory-reset",
}

func (k ActionKind) String() string {
	if k >= 0 && int(k) < len(actionNames) {
		return actionNames[k]
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// Action is a request from the screen to the phone, returned by UI.Key:
// the UI never calls the phone itself.
type Action struct {
	Kind   ActionKind
	Call   string // the call's ID
	Line   int    // 0-based
	Number string
	On     bool
	Delta  int
	// Remote is set when the key that led to the action was pressed
	// through Screen.Press (the API), not on the keypad.
	Remote bool
}

func (a Action) String() string {
	s := a.Kind.String()
	if a.Call != "" {
		s += " call=" + a.Call
	}
	if a.Kind == ActDial || a.Kind == ActSetDND {
		s += fmt.Sprintf(" line=%d", a.Line)
	}
	if a.Number != "" {
		s += " number=" + a.Number
	}
	if a.Kind == ActSetDND {
		s += fmt.Sprintf(" on=%t", a.On)
	}
	if a.Delta != 0 {
		s += fmt.Sprintf(" delta=%d", a.Delta)
	}
	if a.Remote {
		s += " remote"
	}
	return s
}
