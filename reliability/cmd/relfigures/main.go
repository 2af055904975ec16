// Command relfigures prints the figures the reliability suite recorded (a JSON-lines file, see
// package figures) as one Markdown table, in the order they were measured.
//
//	go run ./reliability/cmd/relfigures FILE
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/covergate/covergate/reliability/figures"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relfigures:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: relfigures FILE")
	}
	f, err := os.Open(args[0])
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
	fmt.Fprintln(out, "| suite | measure | value | target | mode |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", cell(r.Suite), cell(r.Name), cell(r.Value), cell(r.Target), r.Mode)
	}
	return nil
}

// cell keeps a value inside its Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
