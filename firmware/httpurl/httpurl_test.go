package httpurl

import "testing"

func TestCheck(t *testing.T) {
	for _, ok := range []string{"http://prov.example.com/phones/", "https://10.0.0.1:8443/p"} {
		if err := Check(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://x/", "http://u:p@x/", "http:///path", "https://x/#frag", "::", "x/y"} {
		if err := Check(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
