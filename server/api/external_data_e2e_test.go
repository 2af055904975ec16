package api_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
)

// violation returns the BadRequest violation of field, failing the test when there is none.
func violation(t *testing.T, st *status.Status, field string) *errdetails.BadRequest_FieldViolation {
	t.Helper()
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return v
				}
			}
		}
	}
	t.Fatalf("no violation on %q in %v", field, st.Proto())
	return nil
}

// externalDataCalls returns the Etvas sandbox's journaled external-data calls as
// "METHOD path body".
func externalDataCalls(s *apptest.Server) []string {
	var out []string
	for _, e := range s.App.Sandbox().Etvas.Kit().Requests() {
		if strings.HasPrefix(e.Path, "/external-data/") {
			out = append(out, e.Method+" "+e.Path+" "+e.Body)
		}
	}
	return out
}

// TestExternalDataKeyBudget: the key Covergate stores at Etvas is "<context_id>:<key>", which
// must fit Etvas's 64 characters; for a 36-character context id the key may have 27.
func TestExternalDataKeyBudget(t *testing.T) {
	s := apptest.Start(t)
	const ctxID = "3f1c2a9e-0000-4000-8000-0000000000e1" // 36 characters, like Etvas's
	fits, over := strings.Repeat("k", 27), strings.Repeat("k", 28)
	var put insurancev1.PutExternalDataResponse
	flowREST(t, s, "PUT", "/v1/external-data/"+fits, `{"contextId":"`+ctxID+`","data":"v"}`, nil, &put)
	if v, ok := s.App.Sandbox().Etvas.ExternalData(ctxID + ":" + fits); !ok || v != "v" || len(ctxID+":"+fits) != 64 {
		t.Fatalf("stored %q %v", v, ok)
	}
	before := len(externalDataCalls(s))
	for _, tc := range []struct{ method, path, body string }{
		{"PUT", "/v1/external-data/" + over, `{"contextId":"` + ctxID + `","data":"v"}`},
		{"GET", "/v1/external-data/" + over + "?contextId=" + ctxID, ""},
		{"DELETE", "/v1/external-data/" + over + "?contextId=" + ctxID, ""},
	} {
		t.Run(tc.method, func(t *testing.T) {
			r := s.JSON(t, tc.method, tc.path, apptest.AllKey, tc.body)
			flowWantREST(t, r, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
			v := violation(t, apptest.RESTStatus(t, r), "key")
			if v.GetReason() != "KEY_SCOPED_TOO_LONG" || !strings.Contains(v.GetDescription(), "at most 27") || !strings.Contains(v.GetDescription(), "64") {
				t.Fatalf("violation %v", v)
			}
		})
	}
	// A context id that leaves no room for a key is refused on context_id.
	r := s.JSON(t, "GET", "/v1/external-data/k?contextId="+strings.Repeat("c", 63), apptest.AllKey, "")
	flowWantREST(t, r, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	violation(t, apptest.RESTStatus(t, r), "context_id")
	if after := len(externalDataCalls(s)); after != before {
		t.Fatalf("refused keys reached Etvas: %d calls", after-before)
	}
}

// TestExternalDataValueLimit: the 100 KB counts the JSON-encoded value; a value over it is
// refused with a violation on `data` giving the encoded size, before any call.
func TestExternalDataValueLimit(t *testing.T) {
	s := apptest.Start(t)
	const ctxID = "3f1c2a9e-0000-4000-8000-0000000000e2"
	client := insurancev1.NewCustomerServiceClient(s.Conn)
	atLimit := strings.Repeat("x", 100*1024-2) // + 2 quotes = 102400 bytes encoded
	if _, err := client.PutExternalData(apptest.WithToken(apptest.AllKey), &insurancev1.PutExternalDataRequest{Key: "big", ContextId: ctxID, Data: atLimit}); err != nil {
		t.Fatalf("value at the limit: %v", err)
	}
	calls := len(externalDataCalls(s))
	escaped := strings.Repeat("\n", 60<<10) // 60 KB raw, 120 KB once encoded
	_, err := client.PutExternalData(apptest.WithToken(apptest.AllKey), &insurancev1.PutExternalDataRequest{Key: "big", ContextId: ctxID, Data: escaped})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || apptest.ErrorInfo(t, st).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE) {
		t.Fatalf("oversize value: %v", err)
	}
	if v := violation(t, st, "data"); !strings.Contains(v.GetDescription(), "122882 bytes") || !strings.Contains(v.GetDescription(), "102400") {
		t.Fatalf("violation %v", v)
	}
	if n := len(externalDataCalls(s)); n != calls {
		t.Fatalf("oversize value reached Etvas")
	}
}

// TestExternalDataMethods: writes use POST and clears write {"data":null} by default (the App
// document); PUT and DELETE are configurable, and the embedded sandbox follows the setting.
func TestExternalDataMethods(t *testing.T) {
	const ctxID = "3f1c2a9e-0000-4000-8000-0000000000e3"
	for _, tc := range []struct {
		name          string
		method, clear string
		want          []string
	}{
		{"defaults", "", "", []string{
			"POST /external-data/" + ctxID + ":theme " + `{"data":"dark"}`,
			"POST /external-data/" + ctxID + ":theme " + `{"data":null}`,
		}},
		{"PUT and DELETE", "PUT", "DELETE", []string{
			"PUT /external-data/" + ctxID + ":theme " + `{"data":"dark"}`,
			"DELETE /external-data/" + ctxID + ":theme ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := apptest.Start(t, func(c *app.Config) {
				if tc.method != "" {
					c.Partners.EtvasExternalDataMethod, c.Partners.EtvasExternalDataDelete = tc.method, tc.clear
				}
			})
			var put insurancev1.PutExternalDataResponse
			flowREST(t, s, "PUT", "/v1/external-data/theme", `{"contextId":"`+ctxID+`","data":"dark"}`, nil, &put)
			var del insurancev1.DeleteExternalDataResponse
			flowREST(t, s, "DELETE", "/v1/external-data/theme?contextId="+ctxID, "", nil, &del)
			got := externalDataCalls(s)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			var read insurancev1.GetExternalDataResponse
			flowREST(t, s, "GET", "/v1/external-data/theme?contextId="+ctxID, "", nil, &read)
			if read.GetFound() {
				t.Fatalf("after clear: %v", &read)
			}
		})
	}
}
