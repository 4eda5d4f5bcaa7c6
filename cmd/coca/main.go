// Command coca trains, runs and checks CoCa models.
//
//	coca train       train a CoCa (default: a small model on the built-in dataset)
//	coca verify      run a golden fixture and compare every output and gradient
//	coca tokenize    CLIP BPE token ids for texts
//	coca preprocess  images to the tensors the model sees
//
// Run "coca <command> -h" for a command's flags and an example.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary, run}
}

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: coca <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'coca <command> -h' for its flags and an example.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	defer restoreDevice()
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "coca: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "coca %s: %s\n", args[0], oneLine(err.Error()))
		return 1
	}
}

// oneLine keeps multi-line errors readable on one terminal line per item.
func oneLine(s string) string { return strings.TrimRight(s, "\n") }

// newFlags returns a FlagSet whose usage prints the summary, an example
// and the flags.
func newFlags(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("coca "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: coca %s %s\n\n%s\n\nexample:\n  %s\n\nflags:\n", name, synopsis, commands[name].summary, example)
		fs.PrintDefaults()
	}
	return fs
}
