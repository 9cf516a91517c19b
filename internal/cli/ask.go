package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// confirm asks on the terminal whether to go ahead with action ("delete
// client tv"), after consequence (what goes with it; may be ""), unless yes
// (--yes) is set. Without a terminal to ask on it refuses: a script says
// --yes. command names the command in that message.
func (e *Env) confirm(yes bool, command, action, consequence string) error {
	if yes {
		return nil
	}
	if !e.terminal {
		return fmt.Errorf("%s asks before it acts, and standard input is not a terminal: add --yes to %s", command, action)
	}
	if consequence != "" {
		fmt.Fprintln(e.Stderr, consequence)
	}
	fmt.Fprintf(e.Stderr, "%s%s? [y/N] ", strings.ToUpper(action[:1]), action[1:])
	line, _ := bufio.NewReader(e.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("cancelled: did not %s", action)
}

func (c *call) confirm(action, consequence string) error {
	return c.Env.confirm(c.yes, strings.TrimPrefix(c.fs.Name(), "latchkey "), action, consequence)
}

// password reads a password from standard input or asks for it on the
// terminal; there is no third way.
func (e *Env) password(fromStdin bool) (string, error) {
	if fromStdin {
		return readSecretLine(e.Stdin)
	}
	if tty, ok := e.Stdin.(*os.File); ok && e.terminal {
		return e.promptPassword(tty)
	}
	return "", errors.New("standard input is not a terminal to ask for the password on: give it with --password-stdin")
}

// readSecretLine reads a password given on standard input: everything up
// to the end, less the line ending a shell or echo adds.
func readSecretLine(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read standard input: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("standard input holds more than one line: give only the password")
	}
	return s, nil
}

// promptPassword asks twice on the terminal with echo off. It turns echo
// off with stty, which every Unix terminal has, rather than adding a module
// for it; where stty is missing it says to use --password-stdin.
func (e *Env) promptPassword(tty *os.File) (string, error) {
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = tty
		return cmd.Run()
	}
	if err := stty("-echo"); err != nil {
		return "", errors.New("cannot turn off echo to ask for the password: give it with --password-stdin")
	}
	defer func() {
		_ = stty("echo")
	}()
	in := bufio.NewReader(tty)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(e.Stderr, prompt)
		line, err := in.ReadString('\n')
		fmt.Fprintln(e.Stderr)
		if err != nil && line == "" {
			return "", errors.New("no password given")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	p1, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	p2, err := ask("Password again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passwords differ")
	}
	return p1, nil
}
