package cli

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewBuild(t *testing.T) {
	t.Parallel()
	checkout := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/latchkey/latchkey", Version: "v0.0.0-20260304050607-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-03-04T05:06:07Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/latchkey/latchkey", Version: "v1.4.0"}}
	devel := &debug.BuildInfo{Main: debug.Module{Path: "github.com/latchkey/latchkey", Version: "(devel)"}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tt := range []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  Build
	}{
		{"stamped by scripts/release", "1.2.3", "fedcba9876543210fedcba9876543210fedcba98", "2026-01-02T03:04:05Z", checkout,
			Build{Version: "1.2.3", Commit: "fedcba9876543210fedcba9876543210fedcba98", Date: "2026-01-02T03:04:05Z"}},
		{"go build in a checkout", "", "", "", checkout,
			Build{Version: "0.0.0-20260304050607-0123456789ab+dirty", Commit: "0123456789abcdef0123456789abcdef01234567",
				Date: "2026-03-04T05:06:07Z", Modified: true}},
		{"go install @v1.4.0", "", "", "", installed, Build{Version: "1.4.0"}},
		{"only the version stamped", "1.2.3", "", "", checkout,
			Build{Version: "1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-03-04T05:06:07Z", Modified: true}},
		{"nothing recorded", "", "", "", devel, Build{Version: "dev"}},
		{"no build information", "", "", "", nil, Build{Version: "dev"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := newBuild(tt.version, tt.commit, tt.date, tt.info)
			tt.want.Go, tt.want.Platform = runtime.Version(), platform
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("newBuild (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	b := Build{Version: "1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-03-04T05:06:07Z",
		Modified: true, Go: "go1.26.0", Platform: "linux/arm64"}
	run := func(args ...string) string {
		var out, errOut bytes.Buffer
		if code := Main(t.Context(), Env{Build: b, Getenv: noEnv, Stdout: &out, Stderr: &errOut}, args); code != 0 {
			t.Fatalf("latchkey %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
		}
		return out.String()
	}
	want := "latchkey 1.2.3\n" +
		"  commit  0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)\n" +
		"  date    2026-03-04T05:06:07Z\n" +
		"  go      go1.26.0 linux/arm64\n"
	if got := run("version"); got != want {
		t.Errorf("latchkey version:\n%s\nwant:\n%s", got, want)
	}
	var got Build
	if err := json.Unmarshal([]byte(run("version", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("latchkey version --json (-want +got):\n%s", diff)
	}
	if got, want := b.String(), "latchkey 1.2.3 (0123456789ab, modified)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// Without a build, Main finds this binary's own.
	var out bytes.Buffer
	Main(t.Context(), Env{Getenv: noEnv, Stdout: &out, Stderr: &out}, []string{"version"})
	if !strings.Contains(out.String(), "  go      "+runtime.Version()+" ") {
		t.Errorf("latchkey version without a stamped build:\n%s", out.String())
	}
}
