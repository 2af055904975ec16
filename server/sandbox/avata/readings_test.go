package avata

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestReadingsValidation(t *testing.T) {
	if err := DefaultReadings().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := []Readings{
		{Paths: "graphql"}, {APIKeyHeader: "X-Key"}, {ClaimUUID: "maybe"}, {DuplicateClaim: "418"},
		{PolicyMoney: "float"}, {SuccessStatus: 202}, {ActivateAnswer: "html"}, {ErrorBody: "xml"},
	}
	for _, b := range bad {
		if err := DefaultReadings().merge(b).Validate(); err == nil {
			t.Errorf("%+v accepted", b)
		}
		cfg := DefaultConfig()
		cfg.Readings = b
		if _, err := Open(cfg); err == nil {
			t.Errorf("Open accepted %+v", b)
		}
	}
	cfg := DefaultConfig()
	cfg.ClaimSteps = []string{"DONE"}
	if _, err := Open(cfg); err == nil {
		t.Error("Open accepted an unknown claim step")
	}
	// Header names are case-insensitive.
	if r := DefaultReadings().merge(Readings{APIKeyHeader: "X-API-KEY"}); r.APIKeyHeader != HeaderXAPIKey {
		t.Errorf("X-API-KEY read as %q", r.APIKeyHeader)
	}
	if r := DefaultReadings().merge(Readings{APIKeyHeader: "authorization"}); r.APIKeyHeader != HeaderAuthorization {
		t.Errorf("authorization read as %q", r.APIKeyHeader)
	}
	// Every value offered is valid.
	for field, values := range AllReadings() {
		for _, v := range values {
			var r Readings
			b, _ := json.Marshal(map[string]any{field: v})
			if field == "successStatus" {
				b = []byte(`{"successStatus":` + v + `}`)
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if err := DefaultReadings().merge(r).Validate(); err != nil {
				t.Errorf("%s=%s: %v", field, v, err)
			}
		}
	}
}

// TestReadingsControlEndpoint: readings switch at run time over HTTP; a bad
// value changes nothing; DELETE restores the configured ones.
func TestReadingsControlEndpoint(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Readings.ClaimUUID = ClaimUUIDPresent })
	post := func(body string) result {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+"/_sandbox/readings", strings.NewReader(body))
		return h.send(t, req)
	}
	if r := post(`{"paths":"rest","duplicateClaim":"400"}`); r.status != 200 {
		t.Fatalf("switch: %d %s", r.status, r.raw)
	}
	got := h.sb.Readings()
	if got.Paths != PathsREST || got.DuplicateClaim != DuplicateBadRequest || got.ClaimUUID != ClaimUUIDPresent || got.APIKeyHeader != HeaderXAPIKey {
		t.Fatalf("readings = %+v", got)
	}
	for _, body := range []string{`{"paths":"soap"}`, `{"colour":"red"}`, `not json`} {
		if r := post(body); r.status != 400 {
			t.Errorf("%s: %d", body, r.status)
		}
	}
	if h.sb.Readings() != got {
		t.Fatal("a refused switch changed the readings")
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+"/_sandbox/readings", nil)
	if r := h.send(t, req); r.status != 200 || !strings.Contains(string(r.raw), `"offered"`) || !strings.Contains(string(r.raw), `"paths":"rest"`) {
		t.Fatalf("GET readings: %d %s", r.status, r.raw)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodDelete, h.srv.URL+"/_sandbox/readings", nil)
	if r := h.send(t, req); r.status != 204 {
		t.Fatalf("DELETE: %d", r.status)
	}
	if rd := h.sb.Readings(); rd.Paths != PathsVerb || rd.ClaimUUID != ClaimUUIDPresent {
		t.Fatalf("after reset = %+v", rd)
	}
	// Control calls are not journaled.
	if n := len(h.sb.Kit().Requests()); n != 0 {
		t.Fatalf("journal has %d entries", n)
	}
}

// TestPathReadings: each table answers its own paths; the other table's
// paths are 404 and a known path with another method is 405.
func TestPathReadings(t *testing.T) {
	for _, paths := range []string{PathsVerb, PathsREST} {
		t.Run(paths, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Readings.Paths = paths })
			policyUUID := h.nftPolicy(t, h.user.Address())
			det := h.must(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{})
			if det["policy"].(map[string]any)["uuid"] != policyUUID {
				t.Fatalf("details = %v", det)
			}
			tok := h.signIn(t, h.user)
			h.must(t, opWalletPolicies, map[string]any{"wallet": h.user.Address(), "chainId": 1}, opts{token: tok})
			if r := h.claim(t, tok, policyUUID); r.status != 200 {
				t.Fatalf("claim: %d %s", r.status, r.raw)
			}
			h.must(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok})
			h.must(t, opActivate, map[string]any{"policyUuid": policyUUID, "chain": "ETHEREUM", "nftIds": []string{nftID},
				"walletAddress": h.user.Address(), "token": "ETH"}, opts{})

			other := PathsREST
			if paths == PathsREST {
				other = PathsVerb
			}
			mine := RoutesFor(paths)
			for op, route := range RoutesFor(other) {
				if m, ok := mine[op]; ok && m == route {
					continue // both readings agree on this one (nonce, claims, kyc)
				}
				want := http.StatusNotFound
				for _, m := range mine {
					if m.Path == route.Path {
						want = http.StatusMethodNotAllowed
					}
				}
				req, _ := http.NewRequestWithContext(t.Context(), route.Method, h.srv.URL+route.Path, strings.NewReader(`{}`))
				req.Header.Set(HeaderXAPIKey, DefaultAPIKey)
				if r := h.send(t, req); r.status != want {
					t.Errorf("%s %s (%s of %s): %d, want %d", route.Method, route.Path, op, other, r.status, want)
				}
			}
		})
	}
}

func TestAPIKeyHeaderReadings(t *testing.T) {
	for _, header := range []string{HeaderXAPIKey, HeaderAPIKey, HeaderAuthorization} {
		t.Run(header, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Readings.APIKeyHeader = header })
			body := map[string]any{"totalValue": 1, "countryCode": "de", "currencyCode": "eur"}
			if r := h.call(t, opDigitalAssetProposal, body, opts{}); r.status != 200 {
				t.Fatalf("key in %s: %d %s", header, r.status, r.raw)
			}
			for _, wrong := range []string{HeaderXAPIKey, HeaderAPIKey, HeaderAuthorization} {
				if wrong == header {
					continue
				}
				r := h.call(t, opDigitalAssetProposal, body, opts{noKey: true, headers: map[string]string{wrong: DefaultAPIKey}})
				if r.status != 401 {
					t.Errorf("key in %s accepted under %s: %d", wrong, header, r.status)
				}
			}
			// Wallet calls: under "Authorization" the wallet JWT stands in for the key.
			policyUUID := h.nftPolicy(t, h.user.Address())
			tok := h.signIn(t, h.user)
			if r := h.call(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok}); r.status != 404 {
				t.Fatalf("claim status without claim: %d %s", r.status, r.raw) // authenticated, no claim yet
			}
			if header != HeaderAuthorization {
				r := h.call(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok, noKey: true})
				if r.status != 401 {
					t.Errorf("wallet call without api key: %d", r.status)
				}
			}
			// The key never reaches the journal.
			for _, e := range h.sb.Kit().Requests() {
				for k, v := range e.Header {
					if strings.Contains(v, DefaultAPIKey) {
						t.Errorf("journal shows the key in %s", k)
					}
				}
				if strings.Contains(e.Body, `"signature":"0x`) {
					t.Errorf("journal shows a signature: %s", e.Body)
				}
			}
		})
	}
}

func TestClaimUUIDReadings(t *testing.T) {
	for _, reading := range []string{ClaimUUIDAbsent, ClaimUUIDPresent} {
		t.Run(reading, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Readings.ClaimUUID = reading })
			policyUUID := h.nftPolicy(t, h.user.Address())
			h.gw.next(t)
			tok := h.signIn(t, h.user)
			cr := h.claim(t, tok, policyUUID).json(t)
			cs := h.must(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok})
			want, _ := h.sb.ClaimUUID(policyUUID)
			for name, m := range map[string]map[string]any{"create": cr, "status": cs} {
				id, has := m["claim"].(map[string]any)["uuid"]
				if (reading == ClaimUUIDPresent) != has || (has && id != want) {
					t.Errorf("%s answer under %s: %v", name, reading, m)
				}
			}
			if reading == ClaimUUIDAbsent {
				sameShape(t, "create", fixture(t, "claim-create.response.json"), cr)
				sameShape(t, "status", fixture(t, "claim-status.response.json"), cs)
			}
		})
	}
}

func TestDuplicateClaimReadings(t *testing.T) {
	tests := []struct {
		reading string
		status  int
		check   func(t *testing.T, body map[string]any)
	}{
		{DuplicateConflict, 409, func(t *testing.T, b map[string]any) {
			if b["code"] != codeClaimExists || !strings.Contains(b["message"].(string), "exists") {
				t.Errorf("body %v", b)
			}
		}},
		{DuplicateBadRequest, 400, func(t *testing.T, b map[string]any) {
			if !strings.Contains(b["message"].(string), "exists") {
				t.Errorf("body %v", b)
			}
		}},
		{DuplicateOKMessage, 200, func(t *testing.T, b map[string]any) {
			if len(b) != 1 || !strings.Contains(b["message"].(string), "exists") {
				t.Errorf("body %v", b)
			}
		}},
		{DuplicateOKClaim, 200, func(t *testing.T, b map[string]any) {
			sameShape(t, "duplicate", fixture(t, "claim-create.response.json"), b)
			if b["claim"].(map[string]any)["reason"] != "stolen" {
				t.Errorf("body %v", b)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.reading, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Readings.DuplicateClaim = tc.reading })
			policyUUID := h.nftPolicy(t, h.user.Address())
			tok := h.signIn(t, h.user)
			if r := h.claim(t, tok, policyUUID); r.status != 200 {
				t.Fatalf("first claim: %d %s", r.status, r.raw)
			}
			first, _ := h.sb.ClaimUUID(policyUUID)
			r := h.claim(t, tok, policyUUID)
			if r.status != tc.status {
				t.Fatalf("second claim: %d %s, want %d", r.status, r.raw, tc.status)
			}
			tc.check(t, r.json(t))
			if again, _ := h.sb.ClaimUUID(policyUUID); again != first {
				t.Fatal("the second claim replaced the first")
			}
		})
	}
}

func TestPolicyMoneyReadings(t *testing.T) {
	for _, reading := range []string{MoneyString, MoneyNumber} {
		t.Run(reading, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Readings.PolicyMoney = reading })
			policyUUID := h.nftPolicy(t, h.user.Address())
			det := h.must(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{})
			pd := det["policy"].(map[string]any)["purchaseData"].(map[string]any)
			for field, want := range map[string]string{"totalValue": "10", "duration": "365", "coveragePercentage": "100"} {
				switch v := pd[field].(type) {
				case json.Number:
					if reading != MoneyNumber || string(v) != want {
						t.Errorf("%s = number %s under %s", field, v, reading)
					}
				case string:
					if reading != MoneyString || v != want {
						t.Errorf("%s = string %q under %s", field, v, reading)
					}
				default:
					t.Errorf("%s = %T", field, v)
				}
			}
		})
	}
}

func TestSuccessStatusAndErrorBodyReadings(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Readings = Readings{SuccessStatus: http.StatusCreated, ErrorBody: ErrorNest, Paths: PathsREST}
	})
	body := map[string]any{"totalValue": 1, "countryCode": "de", "currencyCode": "eur"}
	if r := h.call(t, opDigitalAssetProposal, body, opts{}); r.status != 201 {
		t.Fatalf("POST answered %d", r.status)
	}
	policyUUID := h.nftPolicy(t, h.user.Address())
	if r := h.call(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{}); r.status != 200 {
		t.Fatalf("GET answered %d", r.status)
	}
	r := h.call(t, opPolicyDetails, map[string]any{"uuid": "nope"}, opts{})
	b := r.json(t)
	if r.status != 404 || b["statusCode"] != json.Number("404") || b["error"] != "Not Found" || b["message"] != "policy not found" || b["code"] != nil {
		t.Fatalf("nest error: %d %v", r.status, b)
	}
}

func TestActivateAnswerReadings(t *testing.T) {
	for _, reading := range []string{ActivateConfirmation, ActivateNoContent, ActivatePolicy} {
		t.Run(reading, func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				c.Readings.ActivateAnswer = reading
				c.PolicyAcceptDelay = 1 << 40 // stays PENDING until activated
			})
			bp := h.must(t, opBookingProposal, map[string]any{"totalValue": 5, "chain": "POLYGON", "nftIds": []any{}, "checkInDate": "2027-03-01", "token": "USDC"}, opts{})
			bc := h.must(t, opBookingConfirm, map[string]any{"proposal": map[string]any{"id": bp["id"]},
				"purchase": map[string]any{"totalValue": 5, "chain": "POLYGON", "token": "USDC", "nftIds": []string{nftID}}}, opts{})
			policyUUID := bc["id"].(string)
			if st, _ := h.sb.PolicyStatus(policyUUID); st != PolicyPending {
				t.Fatalf("status %s before activation", st)
			}
			r := h.call(t, opActivate, map[string]any{"policyUuid": policyUUID, "chain": "POLYGON", "nftIds": []string{nftID},
				"walletAddress": h.user.Address(), "token": "USDC"}, opts{})
			switch reading {
			case ActivateNoContent:
				if r.status != 204 || len(r.raw) != 0 {
					t.Fatalf("%d %q", r.status, r.raw)
				}
			case ActivatePolicy:
				sameShape(t, "activate", fixture(t, "policy-details.response.json"), r.json(t))
			default:
				if b := r.json(t); r.status != 200 || b["id"] != policyUUID || len(b) != 2 {
					t.Fatalf("%d %v", r.status, b)
				}
			}
			if st, _ := h.sb.PolicyStatus(policyUUID); st != PolicyAccepted {
				t.Fatalf("status %s after activation", st)
			}
			var cb map[string]any
			json.Unmarshal(h.gw.next(t), &cb)
			if cb["body"].(map[string]any)["status"] != PolicyAccepted {
				t.Fatalf("callback %v", cb)
			}
			// The booking's wallet now owns it: listed for that wallet on Polygon.
			tok := h.signIn(t, h.user)
			wp := h.must(t, opWalletPolicies, map[string]any{"wallet": h.user.Address(), "chainId": 137}, opts{token: tok})
			if len(wp["policies"].([]any)) != 1 {
				t.Fatalf("wallet policies %v", wp)
			}
		})
	}
}
