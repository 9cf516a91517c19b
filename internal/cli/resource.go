package cli

// The admin API's subcommands (`latchkey clients create`, `latchkey groups
// delete`, ...) are ops, run by one function, exec. An op says what its
// path names (refs), which flags it takes, and what it does with the API;
// a resource makes the common ops of one kind of record (create, list,
// get, update, delete, and sending a record a request) from its paths,
// printers and the body its flags make, so that each kind of record is a
// declaration rather than a copy of the others.

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// op is one admin API subcommand.
type op struct {
	name    string // "delete"
	summary string // one line in the group's list of commands
	help    string // what it does, and examples, in its own usage

	refs     []ref    // the records its path names, outermost first
	required []string // flags it cannot do without, beyond its refs'
	prints   bool     // it prints the API's answer: --json prints it as JSON
	asks     bool     // it destroys something: it asks first, and takes --yes
	flags    func(fs *flag.FlagSet)
	check    func(c *call) error // checks its flags before the API is called
	run      func(c *call) error
}

// ref is a record an op's path names: a positional argument or, with
// flag, a flag such as --org ORG.
type ref struct {
	name    string // "ORG": the placeholder, and the key of call.typed and call.ids
	flag    string
	usage   string                                      // the flag's
	resolve func(c *call, typed string) (string, error) // from what people type to the id; nil: it is the id
}

// call is one run of an op.
type call struct {
	*Env
	ctx   context.Context
	fs    *flag.FlagSet
	api   *adminClient
	typed map[string]string // each ref as typed, for messages
	ids   map[string]string // each ref's id, for paths
	body  map[string]any    // the request body check made, if any
	json  bool              // --json
	yes   bool              // --yes
}

// sub makes the op a subcommand of group.
func (o *op) sub(group string) subcommand {
	var args []string
	for _, r := range o.refs {
		if r.flag == "" {
			args = append(args, r.name)
		}
	}
	return subcommand{name: o.name, args: strings.Join(args, " "), summary: o.summary,
		run: func(ctx context.Context, e *Env, argv []string) error {
			return o.exec(ctx, e, group+" "+o.name, args, argv)
		}}
}

// exec runs the op: flags and arguments, the API client, the refs
// resolved to ids, then run.
func (o *op) exec(ctx context.Context, e *Env, name string, positional, argv []string) error {
	c := &call{Env: e, ctx: ctx, typed: map[string]string{}, ids: map[string]string{}}
	required := slices.Clone(o.required)
	var refFlags []string
	for _, r := range o.refs {
		if r.flag != "" {
			refFlags = append(refFlags, r.flag)
		}
	}
	required = append(refFlags, required...)

	synopsis := strings.Join(append([]string{name}, positional...), " ")
	fs := e.newFlags(name, "", "") // its usage is set below, once its flags are known
	c.fs = fs
	// The defaults from the environment are applied after parsing, so that
	// -h never prints the token.
	var endpoint, token string
	fs.StringVar(&endpoint, "endpoint", "", "the server's base `URL` (default $LATCHKEY_ENDPOINT, else "+defaultEndpoint+")")
	fs.StringVar(&token, "token", "", "the admin `TOKEN` (default $LATCHKEY_ADMIN_TOKEN)")
	if o.prints {
		fs.BoolVar(&c.json, "json", false, "print the API's JSON answer instead of text")
	}
	if o.asks {
		fs.BoolVar(&c.yes, "yes", false, "go ahead without asking (needed when standard input is not a terminal)")
	}
	refValues := map[string]*string{}
	for _, r := range o.refs {
		if r.flag != "" {
			refValues[r.name] = fs.String(r.flag, "", r.usage)
		}
	}
	if o.flags != nil {
		o.flags(fs)
	}
	for _, f := range required {
		placeholder, _ := flag.UnquoteUsage(fs.Lookup(f))
		synopsis += " --" + f + " " + placeholder
	}
	help := o.help
	if o.asks {
		help += "\n\nIt asks before it acts: --yes goes ahead without asking, and is needed\nwhen standard input is not a terminal."
	}
	setUsage(fs, synopsis+" [flags]", help)

	pos, err := e.parse(fs, argv, positional...)
	if err != nil {
		return err
	}
	set := given(fs)
	var missing []string
	for _, f := range required {
		if !set[f] || fs.Lookup(f).Value.String() == "" {
			missing = append(missing, "--"+f)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return usageError(fs, "%s is required", missing[0])
	default:
		return usageError(fs, "%s and %s are required", strings.Join(missing[:len(missing)-1], ", "), missing[len(missing)-1])
	}
	for _, r := range o.refs {
		if r.flag != "" {
			c.typed[r.name] = *refValues[r.name]
		} else {
			c.typed[r.name], pos = pos[0], pos[1:]
		}
	}
	if o.check != nil {
		if err := o.check(c); err != nil {
			return err
		}
	}
	if c.api, err = e.adminClient(endpoint, token); err != nil {
		return err
	}
	for _, r := range o.refs {
		id := c.typed[r.name]
		if r.resolve != nil {
			if id, err = r.resolve(c, id); err != nil {
				return err
			}
		}
		c.ids[r.name] = id
	}
	return o.run(c)
}

// resource is a kind of record of the admin API, such as a client: what
// its common subcommands need to know of it.
type resource[T, L any] struct {
	one     string // "client": what messages call one, before its key
	key     ref    // how the command line names one
	parents []ref  // the records its collection belongs to, outermost first
	// path is the collection's path, and item one record's, when it is not
	// the collection's path and the record's id; {NAME} in them stands for
	// the id of the ref NAME.
	path, item string

	items   func(*L) []T         // a list answer's records
	columns []string             // the headings of list's table
	row     func(*T) []string    // a record's row in it
	empty   string               // what list says when there is none; see call.expand
	fields  func(*T) [][2]string // a record as text
	notice  func(*T) string      // a warning for standard error after a record, or ""
}

// itemRefs are the refs that name one record.
func (r *resource[T, L]) itemRefs() []ref {
	if r.item != "" {
		return []ref{r.key}
	}
	return append(slices.Clone(r.parents), r.key)
}

func (r *resource[T, L]) itemPath(c *call) string {
	return c.expandPath(cmp.Or(r.item, r.path+"/{"+r.key.name+"}"))
}

func (r *resource[T, L]) collection(c *call) string { return c.expandPath(r.path) }

// expand replaces each {NAME} in s with the ref NAME as typed.
func (c *call) expand(s string) string {
	var pairs []string
	for name, typed := range c.typed {
		pairs = append(pairs, "{"+name+"}", typed)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// expandPath replaces each {NAME} in the path p with the ref NAME's id.
func (c *call) expandPath(p string) string {
	var pairs []string
	for name, id := range c.ids {
		pairs = append(pairs, "{"+name+"}", url.PathEscape(id))
	}
	return strings.NewReplacer(pairs...).Replace(p)
}

// list makes a subcommand that prints the collection as a table.
func (r *resource[T, L]) list(o op) *op {
	o.refs, o.prints = r.parents, true
	o.run = func(c *call) error {
		var out L
		raw, err := c.api.do(c.ctx, http.MethodGet, r.collection(c), nil, &out)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(c.Stdout, raw)
		}
		items := r.items(&out)
		if len(items) == 0 {
			fmt.Fprintln(c.Stdout, c.expand(r.empty))
			return nil
		}
		rows := make([][]string, len(items))
		for i := range items {
			rows[i] = r.row(&items[i])
		}
		return printTable(c.Stdout, r.columns, rows)
	}
	return &o
}

// get makes a subcommand that prints one record.
func (r *resource[T, L]) get(o op) *op {
	o.refs, o.prints = r.itemRefs(), true
	o.run = func(c *call) error { return r.send(c, http.MethodGet, r.itemPath(c), nil) }
	return &o
}

// create makes a subcommand that posts the body its flags make to the
// collection, and prints the record made.
func (r *resource[T, L]) create(o op, b *body) *op {
	return r.write(o, r.parents, b, func(c *call) error { return r.send(c, http.MethodPost, r.collection(c), c.body) })
}

// update makes a subcommand that patches a record with what its flags
// give, and prints the record. At least one flag must be given.
func (r *resource[T, L]) update(o op, b *body) *op {
	return r.write(o, r.itemRefs(), b, func(c *call) error {
		if len(c.body) == 0 {
			return usageError(c.fs, "nothing to change: give at least one flag")
		}
		return r.send(c, http.MethodPatch, r.itemPath(c), c.body)
	})
}

// put makes a subcommand that puts the body its flags make at a record's
// path, and prints the record.
func (r *resource[T, L]) put(o op, b *body) *op {
	return r.write(o, r.itemRefs(), b, func(c *call) error { return r.send(c, http.MethodPut, r.itemPath(c), c.body) })
}

func (r *resource[T, L]) write(o op, refs []ref, b *body, send func(c *call) error) *op {
	o.refs, o.prints = refs, true
	o.required = append(o.required, b.required()...)
	o.flags = b.register
	o.check = func(c *call) (err error) {
		c.body, err = b.build(c.fs)
		return err
	}
	o.run = func(c *call) error {
		if b.adjust != nil {
			if err := b.adjust(c, c.body); err != nil {
				return err
			}
		}
		return send(c)
	}
	return &o
}

// post makes a subcommand that posts to a record's path with suffix
// ("/secret") and prints the record the API answers. When action is not
// "" it asks first whether to action ("replace the secret of client
// {CLIENT}", expanded by call.expand), saying consequence.
func (r *resource[T, L]) post(o op, suffix, action, consequence string) *op {
	o.refs, o.prints, o.asks = r.itemRefs(), true, action != ""
	o.run = func(c *call) error {
		if action != "" {
			if err := c.confirm(c.expand(action), consequence); err != nil {
				return err
			}
		}
		return r.send(c, http.MethodPost, r.itemPath(c)+suffix, nil)
	}
	return &o
}

// remove makes a subcommand that deletes a record, after asking.
// consequence says what goes with it.
func (r *resource[T, L]) remove(o op, consequence string) *op {
	named := r.one + " {" + r.key.name + "}"
	return r.change(o, http.MethodDelete, "delete "+named, consequence, "Deleted "+named+".")
}

// change makes a subcommand that sends method, without a body, to a
// record's path, and prints done. When action is not "" it asks first
// whether to action ("remove {USER} from organization {ORG}"). Each text
// is expanded by call.expand.
func (r *resource[T, L]) change(o op, method, action, consequence, done string) *op {
	o.refs, o.asks = r.itemRefs(), action != ""
	o.run = func(c *call) error {
		if action != "" {
			if err := c.confirm(c.expand(action), consequence); err != nil {
				return err
			}
		}
		if _, err := c.api.do(c.ctx, method, r.itemPath(c), nil, nil); err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, c.expand(done))
		return nil
	}
	return &o
}

// send sends method to path, with body unless it is nil, and prints the
// record the API answers.
func (r *resource[T, L]) send(c *call, method, path string, body map[string]any) error {
	var in any
	if body != nil {
		in = body
	}
	var out T
	raw, err := c.api.do(c.ctx, method, path, in, &out)
	if err != nil {
		return err
	}
	return r.show(c, raw, &out)
}

// show prints a record: as the API's JSON with --json, else as text.
func (r *resource[T, L]) show(c *call, raw []byte, t *T) error {
	var err error
	if c.json {
		err = printJSON(c.Stdout, raw)
	} else {
		err = printFields(c.Stdout, r.fields(t))
	}
	if r.notice != nil {
		if n := r.notice(t); n != "" && err == nil {
			fmt.Fprintln(c.Stderr, n) // standard output stays the record alone
		}
	}
	return err
}

// body is the request body a subcommand makes of its flags: each field is a
// flag and a member. What fields cannot say (a password asked for on the
// terminal, a user code policy merged with the stored one) the flags of
// flags register and adjust adds, once the API can be asked.
type body struct {
	fields []field
	flags  func(fs *flag.FlagSet)
	adjust func(c *call, req map[string]any) error

	text  map[string]*string
	bools map[string]*bool
}

// field is a flag that sets a member of a request body.
type field struct {
	flag, member string
	usage        string // with the placeholder in back quotes and capitals: "the client's `NAME`"
	boolean      bool
	required     bool
	// def is the flag's default; when not "", the member is always sent.
	def string
	// value turns the flag's text into the member; nil sends the text.
	value func(string) (any, error)
}

func (b *body) required() []string {
	var names []string
	for _, f := range b.fields {
		if f.required {
			names = append(names, f.flag)
		}
	}
	return names
}

func (b *body) register(fs *flag.FlagSet) {
	b.text, b.bools = map[string]*string{}, map[string]*bool{}
	for _, f := range b.fields {
		if f.boolean {
			b.bools[f.flag] = fs.Bool(f.flag, false, f.usage)
		} else {
			b.text[f.flag] = fs.String(f.flag, f.def, f.usage)
		}
	}
	if b.flags != nil {
		b.flags(fs)
	}
}

// build returns the members of the fields whose flags were given, and of
// those with a default.
func (b *body) build(fs *flag.FlagSet) (map[string]any, error) {
	set := given(fs)
	req := map[string]any{}
	for _, f := range b.fields {
		switch {
		case f.boolean && set[f.flag]:
			req[f.member] = *b.bools[f.flag]
		case !f.boolean && (set[f.flag] || f.def != ""):
			text := *b.text[f.flag]
			var v any = text
			if f.value != nil {
				var err error
				if v, err = f.value(text); err != nil {
					return nil, fmt.Errorf("--%s %s: %w", f.flag, cmp.Or(text, `""`), err)
				}
			}
			req[f.member] = v
		}
	}
	return req, nil
}

// commaList is a field's value that is a comma-separated list.
func commaList(s string) (any, error) { return splitList(s), nil }

// spaceList is a field's value that is a space-separated list, such as
// scopes: sent with single spaces.
func spaceList(s string) (any, error) { return strings.Join(strings.Fields(s), " "), nil }

// subs makes ops the subcommands of group.
func subs(group string, ops ...*op) []subcommand {
	out := make([]subcommand, len(ops))
	for i, o := range ops {
		out[i] = o.sub(group)
	}
	return out
}

// adminTrailer ends the usage of every admin API group.
const adminTrailer = `Every command talks to the admin API of a running server: --endpoint URL
(default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `) and --token TOKEN (default
$LATCHKEY_ADMIN_TOKEN; ` + "`latchkey serve --dev`" + ` prints one).`
