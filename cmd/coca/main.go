// Command coca trains, runs and checks CoCa models.
//
//	coca train       train a CoCa (default: a small model on the built-in dataset)
//	coca caption     caption images (files, directories, -r, --files-from)
//	coca embed       image and text embeddings to a file
//	coca zeroshot    classify images among class names
//	coca retrieve    rank an embeddings index for a text or an image
//	coca probe       train a classification head on a model's image features
//	coca classify    classify images with a probe head (or zero-shot)
//	coca synth       render a labelled folder of synthetic shapes
//	coca verify      run a golden fixture and compare every output and gradient
//	coca tokenize    CLIP BPE token ids for texts
//	coca preprocess  images to the tensors the model sees
//	coca convert     a PyTorch checkpoint to safetensors
//	coca version     the build's version
//
// Run "coca <command> -h" for a command's flags and an example. Usage
// errors (an unknown flag, a bad value) exit with status 2, other errors
// with 1. Text that comes from files (paths, captions, class names, tensor
// names) is printed with control characters escaped.
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

// usageError is a bad flag value or combination: printed, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// cliOutput is the standard error a command writes to; it records whether
// the command printed its usage, which the flag package does on every
// parse error (an unknown flag, a bad value).
type cliOutput struct {
	w          io.Writer
	usageShown bool
}

func (c *cliOutput) Write(p []byte) (int, error) { return c.w.Write(p) }

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
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
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
		fmt.Fprintf(stderr, "coca: unknown command %q\n\n", termSafe(args[0]))
		usage(stderr)
		return 2
	}
	out := &cliOutput{w: stderr}
	err := c.run(args[1:], stdout, out)
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "coca %s: %s (see coca %s -h)\n", args[0], printable(err.Error()), args[0])
		return 2
	case out.usageShown:
		return 2 // a parse error: the flag package printed it with the usage
	default:
		// A library error names its package ("train: ..."); after "coca train:"
		// that says the same thing twice.
		msg := strings.TrimPrefix(err.Error(), args[0]+": ")
		fmt.Fprintf(stderr, "coca %s: %s\n", args[0], printable(msg))
		return 1
	}
}

// printable prepares an error message for the terminal: trailing newlines
// dropped, control characters other than newlines escaped (messages quote
// paths and names from files).
func printable(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = termSafe(l)
	}
	return strings.Join(lines, "\n")
}

// newFlags returns a FlagSet whose usage prints the summary, an example
// and the flags.
func newFlags(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("coca "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if c, ok := stderr.(*cliOutput); ok {
			c.usageShown = true
		}
		fmt.Fprintf(stderr, "usage: coca %s %s\n\n%s\n\nexample:\n  %s\n\nflags:\n", name, synopsis, commands[name].summary, example)
		fs.PrintDefaults()
	}
	return fs
}
