package dialoginfo_test

import (
	"fmt"

	"github.com/deskphone/phone/voip/dialoginfo"
)

func ExampleParse() {
	info, err := dialoginfo.Parse([]byte(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:bob@example.com">
  <dialog id="d1" call-id="a84b4c76e66710" local-tag="1928301774" remote-tag="456887766" direction="recipient">
    <state>early</state>
  </dialog>
</dialog-info>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var t dialoginfo.Tracker
	if err := t.Apply(info); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := t.Dialogs()[0].Replaces()
	fmt.Println(t.State())
	fmt.Println(r)
	// Output:
	// ringing
	// a84b4c76e66710;to-tag=1928301774;from-tag=456887766;early-only
}
