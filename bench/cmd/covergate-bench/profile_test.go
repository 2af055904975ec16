package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func TestPackageOf(t *testing.T) {
	for fn, want := range map[string]string{
		"net/http.(*conn).serve":                             "net/http",
		"github.com/a/b.F.func1":                             "github.com/a/b",
		"github.com/a/b/v2.(*T).M":                           "github.com/a/b/v2",
		"runtime.mallocgc":                                   "runtime",
		"gopkg.in/yaml%2ev3.(*parser).parse":                 "gopkg.in/yaml%2ev3", // symbols escape dots in the last path element
		"aeshashbody":                                        "aeshashbody",
		"go.opentelemetry.io/otel/sdk/trace.(*tracer).Start": "go.opentelemetry.io/otel/sdk/trace",
	} {
		if got := packageOf(fn); got != want {
			t.Errorf("packageOf(%q) = %q, want %q", fn, got, want)
		}
	}
}

// summarise ranks flat time by leaf function (an inlined frame is its own function),
// cumulative time once per sample per function (recursion is not counted twice), and packages
// by flat time.
func TestSummarise(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	serve, handler, query, marshal := fn(1, "net/http.(*conn).serve"), fn(2, "example.com/gw.handler"),
		fn(3, "example.com/store.query"), fn(4, "example.com/gw.marshal")
	loc := func(id uint64, fns ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: id}
		for _, f := range fns {
			l.Line = append(l.Line, profile.Line{Function: f})
		}
		return l
	}
	lServe, lHandler, lQuery := loc(1, serve), loc(2, handler), loc(3, query)
	lMarshalInlined := loc(4, marshal, handler) // marshal inlined into handler
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Function:   []*profile.Function{serve, handler, query, marshal},
		Location:   []*profile.Location{lServe, lHandler, lQuery, lMarshalInlined},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lQuery, lHandler, lServe}, Value: []int64{3, 30}},
			{Location: []*profile.Location{lMarshalInlined, lServe}, Value: []int64{2, 20}},
			{Location: []*profile.Location{lHandler, lHandler, lServe}, Value: []int64{1, 10}}, // recursion
		},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10,
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := summarise(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 60 {
		t.Errorf("total %v, want 60ns", got.Total)
	}
	want := func(name string, xs []share, list string, cpu time.Duration) {
		t.Helper()
		for _, x := range xs {
			if x.Name == name {
				if x.CPU != cpu {
					t.Errorf("%s %s = %v, want %v", list, name, x.CPU, cpu)
				}
				return
			}
		}
		if cpu != 0 {
			t.Errorf("%s has no %s (want %v): %v", list, name, cpu, xs)
		}
	}
	want(query.Name, got.Flat, "flat", 30)
	want(marshal.Name, got.Flat, "flat", 20)
	want(handler.Name, got.Flat, "flat", 10)
	want(serve.Name, got.Flat, "flat", 0)
	want(serve.Name, got.Cum, "cum", 60)
	want(handler.Name, got.Cum, "cum", 60)
	want(query.Name, got.Cum, "cum", 30)
	want("example.com/gw", got.Packages, "packages", 30)
	want("example.com/store", got.Packages, "packages", 30)
	if got.Flat[0].Name != query.Name {
		t.Errorf("flat not ranked: %v", got.Flat)
	}
	if _, err := summarise([]byte("not a profile")); err == nil {
		t.Error("garbage parsed")
	}
}
