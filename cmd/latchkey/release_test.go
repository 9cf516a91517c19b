package main

// Tests of how latchkey is built and shipped: scripts/release, the
// Dockerfile, the systemd unit and the Compose file. No container engine
// runs in CI here, so the Dockerfile is read rather than built (.ci/run
// builds it where `docker info` answers).

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/latchkey/latchkey/internal/cli"
	"github.com/latchkey/latchkey/internal/testenv"
)

// repoFile reads a file of the repository, from the top.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// release runs scripts/release for this platform into dir, stamped with
// stamp, and returns the binary's path and SHA256SUMS.
func release(t *testing.T, dir string, stamp cli.Build) (bin, sums string) {
	t.Helper()
	cmd := exec.Command("bash", "scripts/release")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH, "DIST="+dir,
		"VERSION="+stamp.Version, "COMMIT="+stamp.Commit, "DATE="+stamp.Date)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, out)
	}
	name := fmt.Sprintf("latchkey-%s-%s-%s", stamp.Version, runtime.GOOS, runtime.GOARCH)
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name), string(b)
}

// TestRelease: scripts/release builds a static, -trimpath binary that says
// the version, commit and date it was stamped with (so the -X names match
// main's variables), lists it in SHA256SUMS, and builds the same bytes
// twice.
func TestRelease(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("scripts/release is a bash script")
	}
	stamp := cli.Build{Version: "1.2.3-test", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-03-04T05:06:07Z",
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bin, sums := release(t, t.TempDir(), stamp)

	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	var got cli.Build
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if got != stamp {
		t.Errorf("version --json = %#v\nwant %#v", got, stamp)
	}

	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(bin) + "\n"; sums != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", sums, want)
	}

	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings %v: want CGO_ENABLED=0 and -trimpath", settings)
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("the binary is dynamically linked (%v): distroless static and scratch have no C library", p.Type)
			}
		}
	}

	_, again := release(t, t.TempDir(), stamp)
	if again != sums {
		t.Errorf("two builds of one commit differ:\n%s\n%s", sums, again)
	}
}

// instruction is one instruction of a Dockerfile: its keyword in capitals
// and the rest of its line, continuation lines joined.
type instruction struct{ keyword, args string }

func parseDockerfile(text string) [][]instruction {
	var stages [][]instruction
	var line string
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		if line == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			line += cont + " "
			continue
		}
		line += trimmed
		keyword, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(keyword), strings.Join(strings.Fields(args), " ")}
		line = ""
		if in.keyword == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return stages
}

func (s stage) all(keyword string) []string {
	var args []string
	for _, in := range s {
		if in.keyword == keyword {
			args = append(args, in.args)
		}
	}
	return args
}

type stage []instruction

// TestDockerfile holds the image to what docs/deploy.md says of it: built
// by scripts/release with the Go release go.mod names, a static binary on
// distroless or scratch, a user other than root, port 8080 on every
// interface, and a HEALTHCHECK that runs `latchkey healthcheck`.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(repoFile(t, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("%d stages; want a build stage and the image", len(stages))
	}
	build, final := stage(stages[0]), stage(stages[1])

	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(repoFile(t, "go.mod"))
	if from := build[0].args; goVersion == nil || !strings.Contains(from, "golang:"+goVersion[1]+"-") {
		t.Errorf("build stage FROM %s: want golang:%s, go.mod's Go release", from, goVersion[1])
	}
	runs := strings.Join(build.all("RUN"), "\n")
	if !strings.Contains(runs, "./scripts/release") || strings.Contains(runs, "go build") {
		t.Errorf("the build stage should build with scripts/release, as releases are, and nothing else:\n%s", runs)
	}

	if from := final[0].args; from != "gcr.io/distroless/static-debian12:nonroot" && from != "scratch" {
		t.Errorf("image FROM %s: want distroless static or scratch", from)
	}
	users := final.all("USER")
	if len(users) != 1 || regexp.MustCompile(`^(0|root)(:|$)`).MatchString(users[0]) {
		t.Errorf("USER %q: want one user other than root", users)
	}
	if env := final.all("ENV"); !slices.Contains(env, "LATCHKEY_LISTEN=0.0.0.0:8080") {
		t.Errorf("ENV %q: want LATCHKEY_LISTEN=0.0.0.0:8080", env)
	}
	if expose := final.all("EXPOSE"); !slices.Equal(expose, []string{"8080"}) {
		t.Errorf("EXPOSE %q: want 8080", expose)
	}
	const bin = "/usr/local/bin/latchkey"
	if copies := strings.Join(final.all("COPY"), "\n"); !strings.Contains(copies, "--from=build /out/latchkey "+bin) {
		t.Errorf("the image does not copy the built binary to %s:\n%s", bin, copies)
	}
	if ep := final.all("ENTRYPOINT"); !slices.Equal(ep, []string{`["` + bin + `"]`}) {
		t.Errorf("ENTRYPOINT %q", ep)
	}
	hc := final.all("HEALTHCHECK")
	if len(hc) != 1 || !strings.HasSuffix(hc[0], `CMD ["`+bin+`", "healthcheck"]`) {
		t.Fatalf("HEALTHCHECK %q: want CMD [%q, \"healthcheck\"]", hc, bin)
	}
	// The command the health check runs exists.
	var out, errOut bytes.Buffer
	if code := cli.Main(t.Context(), cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }},
		[]string{"healthcheck", "-h"}); code != 0 {
		t.Errorf("latchkey healthcheck -h: exit %d\n%s", code, &errOut)
	}

	// What the build copies in is not left out of the build context.
	for _, pattern := range strings.Split(repoFile(t, ".dockerignore"), "\n") {
		pattern = strings.TrimPrefix(strings.TrimSpace(pattern), "**/")
		if pattern == "" || strings.HasPrefix(pattern, "#") {
			continue
		}
		for _, needed := range []string{"go.mod", "go.sum", "scripts", "scripts/release", "cmd", "internal"} {
			if ok, _ := filepath.Match(pattern, needed); ok {
				t.Errorf(".dockerignore's %q leaves out %s, which the build needs", pattern, needed)
			}
		}
	}
}

// unitSettings reads a systemd unit's [Service] section: each key's values
// in order.
func unitSettings(text string) map[string][]string {
	settings := map[string][]string{}
	section := ""
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = l
		case section == "[Service]":
			k, v, _ := strings.Cut(l, "=")
			settings[k] = append(settings[k], v)
		}
	}
	return settings
}

// TestSystemdUnit: deploy/latchkey.service runs serve as its own user with
// the sandbox docs/deploy.md describes, and systemd-analyze accepts it.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	text := repoFile(t, "deploy/latchkey.service")
	got := unitSettings(text)
	for key, want := range map[string]string{
		"User":                    "latchkey",
		"ExecStart":               "/usr/local/bin/latchkey serve --config %d/latchkey.yaml",
		"LoadCredential":          "latchkey.yaml:/etc/latchkey/latchkey.yaml",
		"StateDirectory":          "latchkey",
		"StateDirectoryMode":      "0700",
		"ReadWritePaths":          "/var/lib/latchkey",
		"UMask":                   "0077",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
		"SystemCallErrorNumber":   "EPERM",
		"Restart":                 "on-failure",
	} {
		if vs, ok := got[key]; !ok || vs[0] != want {
			t.Errorf("%s=%q; want %q", key, vs, want)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze (Debian package systemd)")
	}
	// verify wants ExecStart's program to exist: this test's binary stands in.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "latchkey.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(text, "/usr/local/bin/latchkey", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestCompose: deploy/compose.yaml runs Latchkey on PostgreSQL behind Caddy
// with no port of its own (what makes trust_proxy safe), and docs/deploy.md
// shows it and the Caddyfile as they are.
func TestCompose(t *testing.T) {
	t.Parallel()
	compose := repoFile(t, "deploy/compose.yaml")
	caddyfile := repoFile(t, "deploy/Caddyfile")
	var c struct {
		Services map[string]struct {
			Image       string         `yaml:"image"`
			Build       string         `yaml:"build"`
			Environment map[string]any `yaml:"environment"`
			Ports       []string       `yaml:"ports"`
			Volumes     []string       `yaml:"volumes"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(compose), &c); err != nil {
		t.Fatal(err)
	}
	lk, pg, caddy := c.Services["latchkey"], c.Services["postgres"], c.Services["caddy"]
	if lk.Build != ".." || len(lk.Ports) != 0 || lk.Environment["LATCHKEY_CONFIG"] != "/etc/latchkey/latchkey.yaml" ||
		lk.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("latchkey service: %+v", lk)
	}
	if !strings.HasPrefix(pg.Image, "postgres:") || pg.Environment["POSTGRES_USER"] != "latchkey" || pg.Environment["POSTGRES_DB"] != "latchkey" {
		t.Errorf("postgres service: %+v", pg)
	}
	if !strings.HasPrefix(caddy.Image, "caddy:") || !slices.Contains(caddy.Volumes, "./Caddyfile:/etc/caddy/Caddyfile:ro") ||
		!slices.Contains(caddy.Ports, "443:443") || caddy.DependsOn["latchkey"].Condition != "service_healthy" {
		t.Errorf("caddy service: %+v", caddy)
	}
	if !strings.Contains(caddyfile, "reverse_proxy latchkey:8080") || !strings.Contains(caddyfile, "{$LATCHKEY_HOST} {") {
		t.Errorf("the Caddyfile does not forward LATCHKEY_HOST to latchkey:8080:\n%s", caddyfile)
	}
	doc := repoFile(t, "docs/deploy.md")
	for name, text := range map[string]string{"compose.yaml": compose, "Caddyfile": caddyfile} {
		if !strings.Contains(doc, "\n"+text+"```\n") {
			t.Errorf("docs/deploy.md does not show deploy/%s as it is", name)
		}
	}
}
