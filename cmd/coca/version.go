package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	register("version", "print the version of coca and how it was built", runVersion)
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "coca version", stderr)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	fmt.Fprint(stdout, versionText(readBuildInfo()))
	return nil
}

// readBuildInfo is debug.ReadBuildInfo (tests replace it).
var readBuildInfo = debug.ReadBuildInfo

// versionText describes the build: the module version (a tag for go
// install module@version, "(devel)" for a build in a checkout), the VCS
// revision and time Go stamped into the binary (unless built with
// -buildvcs=false), the Go version, the platform and the build tags.
func versionText(info *debug.BuildInfo, ok bool) string {
	var b strings.Builder
	if !ok {
		fmt.Fprintf(&b, "coca (no build information) %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return b.String()
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(&b, "coca %s %s %s/%s\n", version, info.GoVersion, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "module %s\n", info.Main.Path)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		line := "revision " + rev
		if t := settings["vcs.time"]; t != "" {
			line += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			line += " with uncommitted changes"
		}
		fmt.Fprintln(&b, line)
	} else {
		fmt.Fprintln(&b, "revision unknown (built without VCS stamping: -buildvcs=false, or outside a checkout)")
	}
	var build []string
	for _, k := range []string{"-tags", "CGO_ENABLED", "GOAMD64", "GOARM64"} {
		if v, ok := settings[k]; ok && v != "" {
			build = append(build, k+"="+v)
		}
	}
	if len(build) > 0 {
		fmt.Fprintf(&b, "build %s\n", strings.Join(build, " "))
	}
	return b.String()
}
