package tier

import "testing"

func TestEnabled(t *testing.T) {
	for _, c := range []struct {
		env, tier string
		want      bool
	}{
		{"", "qemu", false},
		{"qemu", "qemu", true},
		{"natlab,qemu", "qemu", true},
		{"natlab, qemu", "qemu", true},
		{"natlab", "qemu", false},
		{"qemu2", "qemu", false},
		{"q", "qemu", false},
	} {
		t.Setenv(Env, c.env)
		if got := Enabled(c.tier); got != c.want {
			t.Errorf("%s=%q: Enabled(%q) = %v, want %v", Env, c.env, c.tier, got, c.want)
		}
	}
}

func TestParam(t *testing.T) {
	if got := ParamName("natlab", "dir"); got != "DESKPHONE_NATLAB_DIR" {
		t.Errorf("ParamName = %q", got)
	}
	t.Setenv("DESKPHONE_QEMU_IMAGE", "/img")
	if got := Param("qemu", "IMAGE"); got != "/img" {
		t.Errorf("Param = %q", got)
	}
	if got := MustParam(t, "qemu", "IMAGE", "test-qemu"); got != "/img" {
		t.Errorf("MustParam = %q", got)
	}
}

func TestRequireSkips(t *testing.T) {
	t.Setenv(Env, "natlab")
	ran := false
	t.Run("other", func(t *testing.T) {
		Require(t, "qemu", "test-qemu")
		ran = true
	})
	if ran {
		t.Error("Require did not skip a tier DESKPHONE_TIER does not name")
	}
	t.Run("named", func(t *testing.T) {
		Require(t, "natlab", "test-lab")
		ran = true
	})
	if !ran {
		t.Error("Require skipped a tier DESKPHONE_TIER names")
	}
}
