package msgsummary_test

import (
	"fmt"

	"github.com/deskphone/phone/voip/msgsummary"
)

func ExampleParse() {
	s, err := msgsummary.Parse([]byte("Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	v := s.Voice()
	fmt.Println(s.Waiting, s.Account, v.New, v.Old, v.OldUrgent)
	// Output: true sip:alice@vmail.example.com 2 8 2
}
