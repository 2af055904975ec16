package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/store"
)

// storePkg is the package whose write methods only the lifecycle (and the other state-changing
// packages: webhook inbox, outbox, jobs, idempotency) may call.
const storePkg = "github.com/covergate/covergate/server/store"

// storeWriteMethods are the store's write methods, derived from its interfaces so that a new
// write method is covered without touching this test: every method of store.Tx (all roles,
// bound to a transaction) that store.Reader (every read role) does not have.
func storeWriteMethods() map[string]bool {
	reads := map[string]bool{}
	rt := reflect.TypeFor[store.Reader]()
	for i := range rt.NumMethod() {
		reads[rt.Method(i).Name] = true
	}
	writes := map[string]bool{}
	tt := reflect.TypeFor[store.Tx]()
	for i := range tt.NumMethod() {
		if name := tt.Method(i).Name; !reads[name] {
			writes[name] = true
		}
	}
	return writes
}

// goList runs `go list` in the module root.
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// exportImporter type-checks against the compiler's export data of the patterns' dependencies
// (`go list -export`), so checking a package does not re-type-check its dependency tree.
func exportImporter(t *testing.T, fset *token.FileSet, patterns ...string) types.Importer {
	t.Helper()
	exports := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(goList(t, append([]string{"-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, patterns...)...)))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), "\t"); ok && file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
}

// storeWrites type-checks files (one package) and reports every use — call or method value —
// of a method that the store package (or one of its engines) declares under a write name.
// Matching on types, not names, lets a lifecycle command share a store method's name.
func storeWrites(fset *token.FileSet, path string, files []*ast.File, imp types.Importer, writes map[string]bool) ([]string, error) {
	info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
	if _, err := (&types.Config{Importer: imp}).Check(path, fset, files, info); err != nil {
		return nil, fmt.Errorf("type-check %s: %w", path, err)
	}
	var found []string
	for sel, s := range info.Selections {
		if s.Kind() == types.FieldVal || !writes[sel.Sel.Name] {
			continue
		}
		pkg := s.Obj().Pkg()
		if pkg == nil || (pkg.Path() != storePkg && !strings.HasPrefix(pkg.Path(), storePkg+"/")) {
			continue
		}
		pos := fset.Position(sel.Sel.Pos())
		found = append(found, fmt.Sprintf("%s:%d: %s", filepath.Base(pos.Filename), pos.Line, sel.Sel.Name))
	}
	sort.Strings(found)
	return found, nil
}

func parseFiles(t *testing.T, fset *token.FileSet, dir string, names []string) []*ast.File {
	t.Helper()
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func TestStoreWriteMethodsDerived(t *testing.T) {
	writes := storeWriteMethods()
	for _, w := range []string{"AppendEvent", "CreateQuote", "UpdatePolicy", "EnqueuePublication", "PutWalletSession", "DeleteWalletSession", "CreateClaimDocument"} {
		if !writes[w] {
			t.Errorf("%s is not among the derived write methods", w)
		}
	}
	for _, r := range []string{"GetCustomer", "ListEvents", "GetWalletSession", "FindPolicyByAvataUUID"} {
		if writes[r] {
			t.Errorf("read method %s is among the write methods", r)
		}
	}
}

// TestStoreWriteCheckerFindsViolations runs the checker on a fixture with known violations, so
// the guard below cannot pass by finding nothing.
func TestStoreWriteCheckerFindsViolations(t *testing.T) {
	fset := token.NewFileSet()
	imp := exportImporter(t, fset, storePkg)
	dir := filepath.Join("testdata", "violation")
	src, err := os.ReadFile(filepath.Join(dir, "violation.go"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, line := range strings.Split(string(src), "\n") {
		if m := regexp.MustCompile(`// VIOLATION (\w+)`).FindStringSubmatch(line); m != nil {
			want = append(want, fmt.Sprintf("violation.go:%d: %s", i+1, m[1]))
		}
	}
	if len(want) == 0 {
		t.Fatal("the fixture marks no violation")
	}
	got, err := storeWrites(fset, "example.com/violation", parseFiles(t, fset, dir, []string{"violation.go"}), imp, storeWriteMethods())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("violations found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestAPIDoesNotWriteTheStore: server/api only maps messages, calls lifecycle (or a sibling
// command package) and maps errors; every state change goes through those packages, which give
// each event its source. Test files may seed state directly.
func TestAPIDoesNotWriteTheStore(t *testing.T) {
	const apiPkg = "github.com/covergate/covergate/server/api"
	// GoFiles: the package's non-test files for this platform's build constraints.
	out := goList(t, "-f", "{{.Dir}}\t{{join .GoFiles \" \"}}", apiPkg)
	dir, names, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	files := strings.Fields(names)
	if len(files) == 0 {
		t.Fatalf("go list found no files in %s", apiPkg)
	}
	fset := token.NewFileSet()
	found, err := storeWrites(fset, apiPkg, parseFiles(t, fset, dir, files), exportImporter(t, fset, apiPkg), storeWriteMethods())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("server/api calls store write methods; move them behind lifecycle:\n  %s", strings.Join(found, "\n  "))
	}
}
