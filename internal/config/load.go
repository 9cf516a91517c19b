package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load returns the defaults, overlaid with the YAML file at path (if path is
// not empty) and then with LATCHKEY_* variables from getenv.
//
// A file with problems still gives a Config: what could be read is set, and
// every other key keeps its default. The error then lists each problem of
// the file on a line of its own, by line number and YAML name: unknown keys
// (with the keys known there), values of the wrong kind, keys given twice.
// A caller may Validate the result and report both lists together, so that
// one run shows everything to fix.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	var err error
	if path != "" {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return c, fmt.Errorf("read config: %w", rerr)
		}
		err = decodeFile(path, data, &c)
	}
	c.applyEnv(getenv)
	return c, err
}

// yamlError is what yaml.v3 says of a file it cannot parse.
var yamlError = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// decodeFile sets c from the YAML document data, read from file. It walks
// the document itself rather than asking yaml.v3 to decode the whole of it:
// yaml.v3 names Go types in its errors ("field … not found in type
// config.Login") and stops at the first value it cannot decode.
func decodeFile(file string, data []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlError.FindStringSubmatch(msg); m != nil {
			at := file
			if m[1] != "" {
				at += " line " + m[1]
			}
			return fmt.Errorf("%s: %s", at, msg[len(m[0]):])
		}
		return fmt.Errorf("%s: %s", file, msg)
	}
	if len(doc.Content) == 0 { // an empty file, or only comments
		return nil
	}
	d := decoder{file: file}
	d.section(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	return errors.Join(d.errs...)
}

// decoder collects the problems of one file.
type decoder struct {
	file string
	errs []error
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s line %d: %s", d.file, n.Line, fmt.Sprintf(format, args...)))
}

// section sets the struct v from the mapping n; at is the section's
// dotted YAML name, "" for the top level.
func (d *decoder) section(n *yaml.Node, v reflect.Value, at string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	keys := yamlKeys(v.Type())
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "login:" with nothing under it keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		if at == "" {
			d.errorf(n, "want settings as keys and values, such as listen: 127.0.0.1:8080")
		} else {
			d.errorf(n, "%q holds settings, not a single value (known: %s)", at, knownKeys(keys))
		}
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // "<<: *defaults" merges another mapping in here
			merged := []*yaml.Node{val}
			if val.Kind == yaml.SequenceNode {
				merged = val.Content
			}
			for _, m := range merged {
				d.section(m, v, at)
			}
			continue
		}
		name := dotted(at, k.Value)
		if line, ok := seen[k.Value]; ok {
			d.errorf(k, "%q is set twice (first at line %d)", name, line)
			continue
		}
		seen[k.Value] = k.Line
		index, ok := keys[k.Value]
		if !ok {
			where := "at the top level"
			if at != "" {
				where = fmt.Sprintf("in %q", at)
			}
			d.errorf(k, "unknown key %q %s (known: %s)", k.Value, where, knownKeys(keys))
			continue
		}
		f := v.Field(index)
		if f.Kind() == reflect.Struct {
			d.section(val, f, name)
			continue
		}
		// Decode into a fresh value, so a value that fails keeps the default.
		p := reflect.New(f.Type())
		if err := val.Decode(p.Interface()); err != nil {
			d.errorf(val, "%s: %s", name, describe(err, f.Type(), val))
			continue
		}
		f.Set(p.Elem())
	}
}

// yamlKeys maps a struct's YAML keys to its field indexes.
func yamlKeys(t reflect.Type) map[string]int {
	keys := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys[name] = i
		}
	}
	return keys
}

func knownKeys(keys map[string]int) string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func dotted(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// describe says what is wrong with a value n that did not decode into a
// t, in the file's terms rather than Go's.
func describe(err error, t reflect.Type, n *yaml.Node) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error() // from an UnmarshalYAML, such as Duration's
	}
	value := "a list"
	switch n.Kind {
	case yaml.ScalarNode:
		value = fmt.Sprintf("%q", n.Value)
	case yaml.MappingNode:
		value = "a mapping"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return value + " is not a whole number"
	case reflect.Bool:
		return value + " is not true or false"
	case reflect.String:
		return "want a single value, not " + value
	}
	return "cannot use " + value + " here"
}
