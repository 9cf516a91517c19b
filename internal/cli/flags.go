package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// newFlags returns the FlagSet of `latchkey <name>`, with the usage
// setUsage gives it.
func (e *Env) newFlags(name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("latchkey "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	setUsage(fs, synopsis, help)
	return fs
}

// setUsage makes fs's usage synopsis (the command line after "latchkey"),
// help (what the command does, and examples), then the flags. A flag's
// placeholder is the word its usage puts in back quotes, in capitals:
// -name NAME.
func setUsage(fs *flag.FlagSet, synopsis, help string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: latchkey %s\n", synopsis)
		if help != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(help))
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
}

// parse parses args with fs, allowing flags after the positional arguments
// too ("clients get ID --json"), and checks that there are as many
// positional arguments as names. Asked for with -h, the usage goes to
// standard output and parse returns flag.ErrHelp; after a mistake, to
// standard error with the mistake, and parse returns errUsage.
func (e *Env) parse(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package calls it on every error: decided below
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.Stdout)
				usage()
				fs.SetOutput(e.Stderr)
				return nil, err
			}
			usage() // the flag package has printed the mistake
			return nil, errUsage
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...) // after "--" everything is positional
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != len(names) {
		if len(pos) > len(names) {
			fmt.Fprintf(fs.Output(), "unexpected argument %q\n", pos[len(names)])
		} else {
			fmt.Fprintf(fs.Output(), "missing %s\n", strings.Join(names[len(pos):], " "))
		}
		usage()
		return nil, errUsage
	}
	return pos, nil
}

// usageError prints a command-line mistake and fs's usage on standard
// error, and returns errUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}

// given returns the names of the flags set on the command line.
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// group is a command made of subcommands, such as `latchkey clients`.
type group struct {
	name    string
	about   string // what the group is for, under its usage line
	trailer string // after the list of subcommands
	subs    func() []subcommand
}

// subcommand is one command of a group. run gets the arguments after the
// subcommand's name.
type subcommand struct {
	name    string // "delete"
	args    string // its positional arguments, for the group's usage: "CLIENT"
	summary string
	run     func(ctx context.Context, e *Env, args []string) error
}

func (g *group) run(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		g.usage(e.Stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		g.usage(e.Stdout)
		return flag.ErrHelp
	}
	for _, s := range g.subs() {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "latchkey %s: unknown command %q\n\n", g.name, args[0])
	g.usage(e.Stderr)
	return errUsage
}

func (g *group) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: latchkey %s <command> [flags]\n\n%s\n\nCommands:\n", g.name, strings.TrimSpace(g.about))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, s := range g.subs() {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
	}
	tw.Flush()
	if g.trailer != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(g.trailer))
	}
	fmt.Fprintf(w, "\nEach command takes -h for its flags: latchkey %s <command> -h\n", g.name)
}
