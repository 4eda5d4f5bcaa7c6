package golden

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// Report collects the Diffs of one golden check and prints them as a table
// with a final verdict line.
type Report struct {
	// Title names what was checked, for example the fixture directory.
	Title string
	// Rerun names the command that regenerates the reference data, printed
	// when something fails.
	Rerun string
	Diffs []Diff
}

// NewReport returns an empty report.
func NewReport(title, rerun string) *Report { return &Report{Title: title, Rerun: rerun} }

// Add records d and returns it.
func (r *Report) Add(d Diff) Diff {
	r.Diffs = append(r.Diffs, d)
	return d
}

// OK reports whether every recorded Diff is within tolerance (and at least
// one was recorded).
func (r *Report) OK() bool { return len(r.Diffs) > 0 && len(r.Failed()) == 0 }

// Failed returns the Diffs out of tolerance.
func (r *Report) Failed() []Diff {
	var out []Diff
	for _, d := range r.Diffs {
		if !d.OK() {
			out = append(out, d)
		}
	}
	return out
}

// Summary returns the final line: the verdict, counts, the failing names and
// the worst differences.
func (r *Report) Summary() string {
	failed := r.Failed()
	var worstAbs, worstNorm float64
	for _, d := range r.Diffs {
		if d.Err == "" {
			worstAbs = max(worstAbs, d.MaxAbs)
			worstNorm = max(worstNorm, d.RelNorm)
		}
	}
	if len(r.Diffs) == 0 {
		return fmt.Sprintf("FAIL %s: nothing compared", r.Title)
	}
	if len(failed) == 0 {
		return fmt.Sprintf("ok %s: %d tensors within tolerance (worst max|diff| %.3g, relnorm %.3g)",
			r.Title, len(r.Diffs), worstAbs, worstNorm)
	}
	names := make([]string, 0, len(failed))
	for i, d := range failed {
		if i == 8 {
			names = append(names, fmt.Sprintf("... %d more", len(failed)-i))
			break
		}
		names = append(names, d.Name)
	}
	s := fmt.Sprintf("FAIL %s: %d of %d tensors out of tolerance: %s", r.Title, len(failed), len(r.Diffs), strings.Join(names, ", "))
	if r.Rerun != "" {
		s += "; reference written by: " + r.Rerun
	}
	return s
}

// String prints one table row per Diff, the mismatches of failing ones, and
// the summary line.
func (r *Report) String() string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ttensor\tshape\tn\tbad\tmax|diff|\tmaxrel\trelnorm\ttolerance")
	for _, d := range r.Diffs {
		if d.Err != "" {
			fmt.Fprintf(tw, "FAIL\t%s\t%v\t\t\t\t\t\t%s\n", d.Name, d.Shape, d.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%d\t%.3g\t%.3g\t%.3g\t%s\n",
			d.status(), d.Name, d.Shape, d.Count, d.Bad, d.MaxAbs, d.MaxRel, d.RelNorm, d.Tol)
	}
	tw.Flush()
	for _, d := range r.Failed() {
		sb.WriteString(d.String())
		sb.WriteByte('\n')
	}
	sb.WriteString(r.Summary())
	return sb.String()
}

// TB is the part of testing.TB a Report reports to.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Check logs the table and reports each failing Diff as a test error, then
// the summary line.
func (r *Report) Check(t TB) {
	t.Helper()
	t.Logf("%s", r)
	for _, d := range r.Failed() {
		t.Errorf("%s", d)
	}
	if !r.OK() {
		t.Errorf("%s", r.Summary())
	}
}
