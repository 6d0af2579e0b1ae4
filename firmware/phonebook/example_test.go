package phonebook_test

import (
	"fmt"

	"github.com/deskphone/phone/firmware/phonebook"
)

func ExampleParse() {
	es, err := phonebook.Parse("phonebook.yaml", []byte(`entries:
  - name: Alice Smith
    speed_dial: 2
    numbers:
      - {number: "201", label: work}
`))
	fmt.Println(es, err)
	_, err = phonebook.Parse("phonebook.yaml", []byte("entries:\n  - name: Bob\n    speed_dial: 22\n    numbers: [202]\n"))
	fmt.Println(err)
	// Output:
	// [{1 Alice Smith [{201 work}] 2}] <nil>
	// phonebook.yaml:3: entries[0].speed_dial: "22" is not one digit 0-9
}

func ExampleNormalize() {
	for _, n := range []string{"201", "sip:201@pbx.example.com", `"Alice" <sips:201@pbx;transport=tls>`, "+44 (20) 7946-0000", "SIP:Alice@PBX"} {
		fmt.Println(phonebook.Normalize(n))
	}
	// Output:
	// 201
	// 201
	// 201
	// +442079460000
	// alice
}
