package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Build says which latchkey this is. Release builds (scripts/release, the
// Dockerfile) stamp the version, commit and date with -ldflags -X on package
// main's variables; what they leave empty comes from what the Go toolchain
// recorded in the binary: the module version of `go install …@v1.2.3`, and
// the revision and commit time of a build in a Git checkout.
type Build struct {
	Version  string `json:"version"`  // "1.2.3", or "dev" when nothing says
	Commit   string `json:"commit"`   // the Git revision; "" when unknown
	Date     string `json:"date"`     // the commit's time, RFC 3339; "" when unknown
	Modified bool   `json:"modified"` // built from a checkout with uncommitted changes
	Go       string `json:"go"`       // the Go release that built it
	Platform string `json:"platform"` // GOOS/GOARCH
}

// NewBuild returns the build of this binary: version, commit and date as
// package main was stamped with (each may be ""), completed from the
// binary's build information.
func NewBuild(version, commit, date string) Build {
	info, _ := debug.ReadBuildInfo()
	return newBuild(version, commit, date, info)
}

// newBuild completes version, commit and date from info (nil when the
// binary has none). A stamped value wins: the release script knows the tag,
// and a Docker build has no .git for Go to read.
func newBuild(version, commit, date string, info *debug.BuildInfo) Build {
	b := Build{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info != nil {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			// `go install …@v1.2.3` records v1.2.3; since Go 1.24 a build in a
			// checkout records a pseudo-version such as
			// v0.0.0-20260304050607-0123456789ab+dirty.
			b.Version = strings.TrimPrefix(info.Main.Version, "v")
		}
		vcs := map[string]string{}
		for _, s := range info.Settings {
			vcs[s.Key] = s.Value
		}
		if b.Commit == "" {
			b.Commit = vcs["vcs.revision"]
			b.Modified = vcs["vcs.modified"] == "true"
		}
		if b.Date == "" {
			b.Date = vcs["vcs.time"]
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// String is the build on one line, for logs and the first line of
// `latchkey version`.
func (b Build) String() string {
	s := "latchkey " + b.Version
	if b.Commit != "" {
		s += " (" + shortCommit(b.Commit)
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func runVersion(_ context.Context, e *Env, args []string) error {
	fs := e.newFlags("version", "version [--json]", `
Prints the version of this latchkey, the commit it was built from and that
commit's date, and the Go release and platform that built it. Quote it in a
bug report.`)
	asJSON := fs.Bool("json", false, "print it as a JSON object")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	b := e.Build
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	or := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	commit := or(b.Commit)
	if b.Modified {
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(e.Stdout, "latchkey %s\n  commit  %s\n  date    %s\n  go      %s %s\n", b.Version, commit, or(b.Date), b.Go, b.Platform)
	return nil
}
