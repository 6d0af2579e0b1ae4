package phonebook

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func openExample(t *testing.T) (*Phonebook, string) {
	t.Helper()
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "phonebook.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pb, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return pb, path
}

func TestExampleFile(t *testing.T) {
	pb, _ := openExample(t)
	want := []Entry{
		{ID: "1", Name: "Alice Smith", SpeedDial: "2", Numbers: []Number{{"201", "work"}, {"sip:alice@pbx.example.com", ""}}},
		{ID: "2", Name: "Reception", Numbers: []Number{{"200", ""}}},
		{ID: "3", Name: "London office", Numbers: []Number{{"+44 (20) 7946-0000", "main"}}},
	}
	if got := pb.List(); !reflect.DeepEqual(got, want) {
		t.Fatalf("List\n%+v\nwant\n%+v", got, want)
	}
	if n, ok := pb.SpeedDial('2'); !ok || n != "201" {
		t.Fatalf("SpeedDial(2) = %q %v", n, ok)
	}
	if _, ok := pb.SpeedDial('3'); ok {
		t.Fatal("SpeedDial(3) found something")
	}
	if _, err := pb.Update("3", Entry{Name: "London office", Numbers: []Number{{Number: "+44 (20) 7946-0000"}}, SpeedDial: "9"}); err != nil {
		t.Fatal(err)
	}
	if n, ok := pb.SpeedDial('9'); !ok || n != "+442079460000" {
		t.Fatalf("SpeedDial(9) = %q %v, want the number without separators", n, ok)
	}
}

func TestLookupNormalises(t *testing.T) {
	pb, _ := openExample(t)
	for _, c := range []struct{ in, name string }{
		{"201", "Alice Smith"},
		{"sip:201@pbx", "Alice Smith"},
		{"sips:201@other.example:5061;transport=tls", "Alice Smith"},
		{`"Alice" <sip:201@pbx;user=phone>`, "Alice Smith"},
		{"tel:201", "Alice Smith"},
		{"SIP:Alice@PBX.example.com", "Alice Smith"},
		{"alice", "Alice Smith"},
		{"sip:200@pbx?subject=x", "Reception"},
		{"+442079460000", "London office"},
		{"sip:+44-20-7946-0000@gw", "London office"},
		{"2010", ""},
		{"20", ""},
		{"", ""},
		{"sip:@pbx", ""},
		{"bob", ""},
	} {
		name, ok := pb.Lookup(c.in)
		if name != c.name || ok != (c.name != "") {
			t.Errorf("Lookup(%q) = %q %v, want %q", c.in, name, ok, c.name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"entries:\n  - name: A\n    numbers: [\"1\"]\n    speed_dial: 22\n", `pb.yaml:4: entries[0].speed_dial: "22" is not one digit 0-9`},
		{"entries:\n  - numbers: [\"1\"]\n", `pb.yaml:2: entries[0].name: required`},
		{"entries:\n  - name: A\n", `pb.yaml:2: entries[0].numbers: at least one number is required`},
		{"entries:\n  - name: A\n    nmbers: [1]\n", `pb.yaml:3: entries[0]."nmbers": unknown key (known keys: id, name, numbers, speed_dial)`},
		{"entries:\n  - name: A\n    numbers: [1]\n  - name: B\n    numbers: [2]\n    id: \"1\"\n  - name: C\n    numbers: [\"\"]\n", `pb.yaml:8: entries[2].numbers[0].number: required`},
		{"entries:\n  - {name: A, numbers: [1], speed_dial: 1}\n  - {name: B, numbers: [2], speed_dial: 1}\n", `pb.yaml:3: entries[1].speed_dial: 1 is also the speed dial of entries[0] (A)`},
		{"entries:\n  - {id: x, name: A, numbers: [1]}\n  - {id: x, name: B, numbers: [2]}\n", `pb.yaml:3: entries[1].id: "x" is also the id of entries[0]`},
		{"entries:\n  - {id: \"a b\", name: A, numbers: [1]}\n", `pb.yaml:2: entries[0].id: "a b" is not 1..32 letters`},
		{"version: 2\n", `pb.yaml:1: version: "2" is not a known version (1)`},
		{"entries: {}\n", `pb.yaml:1: entries: expected a list, got a mapping`},
		{"entries:\n  - name: [A]\n    numbers: [1]\n", `pb.yaml:2: entries[0].name: expected a single value, got a list`},
		{"entries:\n  - name: A\n    numbers:\n      - {number: 1, label: x, extra: 2}\n", `pb.yaml:4: entries[0].numbers[0]."extra": unknown key`},
		{"entries:\n  - name: A\n    name: B\n    numbers: [1]\n", `pb.yaml:3: entries[0].name: duplicate key (first set on line 2)`},
		{"entries:\n  - &a {name: A, numbers: [1]}\n  - *a\n", `pb.yaml:3: entries[1]: aliases are not supported`},
		{"entries: [\n", `pb.yaml:1: yaml: did not find expected node content`},
		{"a: 1\n---\nb: 2\n", `pb.yaml:2: yaml: more than one document`},
		{"- name: A\n", `pb.yaml:1: expected a mapping, got a list`},
		{"entries:\n  - name: \"A\\u0007\"\n    numbers: [1]\n", `pb.yaml:2: entries[0].name: "A\a" holds control characters`},
	} {
		_, err := Parse("pb.yaml", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q)\n err %v\nwant %s", c.in, err, c.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) {
			t.Errorf("Parse(%q): %v is neither ErrInvalid nor ErrConflict", c.in, err)
		}
	}
	// Every problem at once, in one error each.
	_, err := Parse("pb.yaml", []byte("entries:\n  - name: A\n  - numbers: [1]\n"))
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("two bad entries gave %d problems: %v", n, err)
	}
	// Empty files and lists are an empty phonebook.
	for _, in := range []string{"", "# nothing\n", "entries:\n", "entries: []\n", "version: 1\n"} {
		if es, err := Parse("pb.yaml", []byte(in)); err != nil || len(es) != 0 {
			t.Errorf("Parse(%q) = %v, %v", in, es, err)
		}
	}
}

func TestEditsSaved(t *testing.T) {
	pb, path := openExample(t)
	bob, err := pb.Add(Entry{Name: " Bob ", Numbers: []Number{{Number: "sip:202@pbx", Label: "desk"}}, SpeedDial: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if bob.ID != "4" || bob.Name != "Bob" {
		t.Fatalf("added %+v", bob)
	}
	if name, _ := pb.Lookup("202"); name != "Bob" {
		t.Fatalf("Lookup after Add = %q", name)
	}
	if _, err := pb.Update("2", Entry{Name: "Front desk", Numbers: []Number{{Number: "200"}}}); err != nil {
		t.Fatal(err)
	}
	if err := pb.Delete("1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := pb.Lookup("201"); ok {
		t.Fatal("a deleted entry's number still names someone")
	}
	if _, ok := pb.SpeedDial('2'); ok {
		t.Fatal("a deleted entry's speed dial still dials")
	}
	want := pb.List()
	pb2, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := pb2.List(); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded\n%+v\nwant\n%+v", got, want)
	}
	if ids := []string{want[0].ID, want[1].ID, want[2].ID}; !reflect.DeepEqual(ids, []string{"2", "3", "4"}) {
		t.Fatalf("ids %v", ids)
	}
}

func TestEditsRefused(t *testing.T) {
	pb, path := openExample(t)
	before, _ := os.ReadFile(path)
	for name, c := range map[string]struct {
		do   func() error
		want error
	}{
		"speed dial taken": {func() error {
			_, err := pb.Add(Entry{Name: "X", Numbers: []Number{{Number: "9"}}, SpeedDial: "2"})
			return err
		}, ErrConflict},
		"id taken": {func() error {
			_, err := pb.Add(Entry{ID: "2", Name: "X", Numbers: []Number{{Number: "9"}}})
			return err
		}, ErrConflict},
		"no name":   {func() error { _, err := pb.Add(Entry{Numbers: []Number{{Number: "9"}}}); return err }, ErrInvalid},
		"no number": {func() error { _, err := pb.Add(Entry{Name: "X"}); return err }, ErrInvalid},
		"bad digit": {func() error {
			_, err := pb.Add(Entry{Name: "X", Numbers: []Number{{Number: "9"}}, SpeedDial: "x"})
			return err
		}, ErrInvalid},
		"update unknown": {func() error {
			_, err := pb.Update("99", Entry{Name: "X", Numbers: []Number{{Number: "9"}}})
			return err
		}, ErrNotFound},
		"update changes id": {func() error {
			_, err := pb.Update("2", Entry{ID: "7", Name: "X", Numbers: []Number{{Number: "9"}}})
			return err
		}, ErrInvalid},
		"update takes speed dial": {func() error {
			_, err := pb.Update("2", Entry{Name: "X", Numbers: []Number{{Number: "9"}}, SpeedDial: "2"})
			return err
		}, ErrConflict},
		"delete unknown": {func() error { return pb.Delete("99") }, ErrNotFound},
	} {
		if err := c.do(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// Updating an entry keeping its own speed dial is no conflict.
	if _, err := pb.Update("1", Entry{Name: "Alice", Numbers: []Number{{Number: "201"}}, SpeedDial: "2"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) == string(before) {
		t.Fatal("the good update was not saved")
	}
}

func TestNoFileIsReadOnly(t *testing.T) {
	pb, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Add(Entry{Name: "X", Numbers: []Number{{Number: "1"}}}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Add without a file: %v", err)
	}
	if _, ok := pb.Lookup("1"); ok {
		t.Fatal("empty phonebook found a name")
	}
}

// A file with problems gives an empty phonebook and the problems; edits
// are refused so the user's file is not replaced before it is fixed.
func TestBadFileKeptAndReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phonebook.yaml")
	bad := []byte("entries:\n  - name: A\n    numbers: [1]\n    speed_dial: 12\n")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	pb, err := Open(Config{Path: path})
	if pb == nil || err == nil || !strings.Contains(err.Error(), path+":4: entries[0].speed_dial") {
		t.Fatalf("Open = %v, %v", pb, err)
	}
	if _, err := pb.Add(Entry{Name: "X", Numbers: []Number{{Number: "1"}}}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Add: %v, want ErrReadOnly", err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(bad) {
		t.Fatal("the bad file was changed")
	}
}

func TestFailedSaveChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	pb, err := Open(Config{Path: filepath.Join(dir, "phonebook.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Add(Entry{Name: "X", Numbers: []Number{{Number: "1"}}}); err == nil {
		t.Fatal("saving into a missing directory succeeded")
	}
	if len(pb.List()) != 0 {
		t.Fatal("a failed save still added the entry")
	}
	if _, ok := pb.Lookup("1"); ok {
		t.Fatal("a failed save still indexed the number")
	}
}

func TestConcurrentLookupsDuringEdits(t *testing.T) {
	pb, _ := openExample(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			if _, err := pb.Update("2", Entry{Name: "Reception", Numbers: []Number{{Number: "200"}}, SpeedDial: string(rune('3' + i%5))}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for range 200 {
				if name, ok := pb.Lookup("sip:200@pbx"); !ok || name != "Reception" {
					t.Errorf("Lookup during edits = %q %v", name, ok)
					return
				}
				_, _ = pb.SpeedDial('2')
				_ = pb.List()
			}
		})
	}
	wg.Wait()
}
