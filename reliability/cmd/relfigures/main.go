// Command relfigures prints the figures the reliability suite recorded (a JSON-lines file, see
// package figures) as one Markdown table, in the order they were measured.
//
//	go run ./reliability/cmd/relfigures [-revision REV -mode MODE -seconds N] FILE
//
// With -revision, a line naming the revision, date, mode and duration of the run comes first, so
// a report pasted into docs/reliability.md says what it measured (make check-docs checks it).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/covergate/covergate/reliability/figures"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relfigures:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("relfigures", flag.ContinueOnError)
	revision := fs.String("revision", "", "git revision the suite ran on (printed above the table)")
	mode := fs.String("mode", "", "suite mode (ci or full)")
	seconds := fs.Int("seconds", 0, "wall time of the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: relfigures [-revision REV -mode MODE -seconds N] FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("open figures: %w", err)
	}
	defer f.Close()
	var rows []figures.Figure
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var fig figures.Figure
		if err := json.Unmarshal(sc.Bytes(), &fig); err != nil {
			return fmt.Errorf("figures line %d: %w", n, err)
		}
		rows = append(rows, fig)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read figures: %w", err)
	}
	if len(rows) == 0 {
		return errors.New("no figures recorded (did the suite run?)")
	}
	if *revision != "" {
		fmt.Fprintf(out, "Measured on revision `%s`, %s, mode `%s`, %d s.\n\n",
			*revision, time.Now().UTC().Format("2006-01-02 15:04 UTC"), *mode, *seconds)
	}
	fmt.Fprintln(out, "| suite | measure | value | target | mode |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", cell(r.Suite), cell(r.Name), cell(r.Value), cell(r.Target), r.Mode)
	}
	return nil
}

// cell keeps a value inside its Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
