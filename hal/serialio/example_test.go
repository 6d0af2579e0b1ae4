package serialio_test

import (
	"fmt"

	"github.com/deskphone/phone/hal/serialio"
)

func ExampleParseLine() {
	for _, line := range []string{"hook off", "dial 12#", "key vol+", "key 55"} {
		cmd, err := serialio.ParseLine(line)
		fmt.Println(cmd.Op, cmd.Keys, cmd.OffHook, err)
	}
	// Output:
	// 4 [] true <nil>
	// 1 [1 2 #] false <nil>
	// 1 [vol+] false <nil>
	// 0 [] false serialio: bad command: unknown key "55"
}

func ExamplePanel() {
	p := serialio.New(nil)
	defer p.Close()
	// A host would send these lines over a socket (p.AttachListener).
	p.Exec("hook off")
	p.Exec("key 5")
	fmt.Println((<-p.Hook().Events()).OffHook)
	ev := <-p.Keypad().Events()
	fmt.Println(ev.Key, ev.Down)
	// Output:
	// true
	// 5 true
}
