package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/latchkey/latchkey"

// pkg is one package of the module as its non-test files have it.
type pkg struct {
	imports []string             // of the module's own packages, sorted
	files   map[string]*ast.File // parsed whole, by file name
}

// modulePackages parses every package of the module (test files left out)
// from its source, so the rules below hold whatever the build cache or the
// go command say.
func modulePackages(t *testing.T) map[string]*pkg {
	t.Helper()
	root := filepath.Join("..", "..")
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		ip := path.Join(module, filepath.ToSlash(rel))
		k := pkgs[ip]
		if k == nil {
			k = &pkg{files: map[string]*ast.File{}}
			pkgs[ip] = k
		}
		k.files[d.Name()] = f
		for _, is := range f.Imports {
			imp, _ := strconv.Unquote(is.Path.Value)
			if strings.HasPrefix(imp, module+"/") && !slices.Contains(k.imports, imp) {
				k.imports = append(k.imports, imp)
			}
		}
		slices.Sort(k.imports)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pkgs[module+"/internal/server"] == nil {
		t.Fatalf("found no package internal/server under %s", root)
	}
	return pkgs
}

// deps returns every package of the module that ip imports, directly or
// not.
func deps(pkgs map[string]*pkg, ip string) []string {
	var out []string
	var visit func(string)
	visit = func(p string) {
		for _, d := range pkgs[p].imports {
			if !slices.Contains(out, d) {
				out = append(out, d)
				visit(d)
			}
		}
	}
	visit(ip)
	slices.Sort(out)
	return out
}

// TestImportRules holds the package graph to the architecture: the
// protocol vocabulary (oauth) and the settings (config) stand on nothing
// of ours; invitations (org) do not reach into the device flow; only the
// composition root (server) and the command line open a database; and only
// they hold the whole store: every other package declares the few store
// methods it calls.
func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := modulePackages(t)
	internal := func(name string) string { return module + "/internal/" + name }

	for _, leaf := range []string{"oauth", "config", "metrics", "i18n"} {
		if got := pkgs[internal(leaf)].imports; len(got) > 0 {
			t.Errorf("%s imports %v; it must import no Latchkey package", leaf, got)
		}
	}
	if slices.Contains(deps(pkgs, internal("org")), internal("device")) {
		t.Errorf("org depends on device: %v", deps(pkgs, internal("org")))
	}
	if slices.Contains(deps(pkgs, internal("grant")), internal("device")) {
		t.Errorf("grant depends on device, which builds on it: %v", deps(pkgs, internal("grant")))
	}

	// May see the whole store: the composition root, the command line, and
	// the store and its backends themselves.
	whole := func(ip string) bool {
		return ip == internal("server") || ip == internal("cli") || ip == internal("store") ||
			strings.HasPrefix(ip, internal("store")+"/") || strings.HasPrefix(ip, module+"/cmd/")
	}
	for ip, k := range pkgs {
		if whole(ip) {
			continue
		}
		for _, backend := range []string{internal("store/sqlite"), internal("store/postgres")} {
			if slices.Contains(k.imports, backend) {
				t.Errorf("%s imports %s; only server opens a database", ip, backend)
			}
		}
		for file, f := range k.files {
			for _, name := range wideStoreNames(f) {
				t.Errorf("%s (%s) names store.%s; declare the methods it calls instead", ip, file, name)
			}
		}
	}
}

// wideStoreNames returns the interfaces of package store that f names and
// that bundle more than one concern: the whole Store, and the composites.
func wideStoreNames(f *ast.File) []string {
	local := ""
	for _, is := range f.Imports {
		if imp, _ := strconv.Unquote(is.Path.Value); imp == module+"/internal/store" {
			local = "store"
			if is.Name != nil {
				local = is.Name.Name
			}
		}
	}
	if local == "" {
		return nil
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == local {
			switch sel.Sel.Name {
			case "Store", "OrgStore", "AuthorizationStore":
				names = append(names, sel.Sel.Name)
			}
		}
		return true
	})
	return names
}
