package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/etvas"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/pgtest"
)

// The person being erased: values that appear nowhere else, so a hit anywhere is a leftover.
const (
	erasedFirst = "Zenobia"
	erasedLast  = "Quarterfield"
	erasedEmail = "zenobia.quarterfield@example.net"
	erasedPhone = "+4917099887766"
)

// TestErasureLeavesNothingBehind walks a customer through every path issue 14 found personal
// data left after erasure — an unrecognized Etvas event about the same user, the free-text reason
// of the erasure itself, a publication created through the API that names the customer, and a
// claim on a custodial policy filed with the customer's e-mail (its stored idempotent answer
// included) — then erases the customer (through the API on SQLite, through Etvas user.deleted on
// PostgreSQL) and requires that the e-mail, name and phone appear nowhere: not in the SQLite file
// and its WAL, not in a pg_dump of the schema, not in the log.
func TestErasureLeavesNothingBehind(t *testing.T) {
	t.Run("sqlite/EraseCustomer", func(t *testing.T) {
		dir := t.TempDir()
		s := apptest.Start(t, func(c *app.Config) { c.Database = "sqlite:" + filepath.Join(dir, "covergate.db") })
		walkAndErase(t, s, false, func(t *testing.T) []byte {
			var all []byte
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries { // covergate.db, -wal, -shm
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			return all
		})
	})
	t.Run("postgres/user.deleted", func(t *testing.T) {
		dsn := pgtest.FreshDSN(t)
		s := apptest.Start(t, func(c *app.Config) { c.Database = dsn })
		walkAndErase(t, s, true, func(t *testing.T) []byte { return pgDump(t, dsn) })
	})
}

func walkAndErase(t *testing.T, s *apptest.Server, viaEtvas bool, storedBytes func(t *testing.T) []byte) {
	ctx := context.Background()
	personal := []string{erasedFirst, erasedLast, erasedEmail, erasedPhone}

	// A customer created by Etvas's user.create (developer-portal format), with a profile.
	userID := newUUID(t)
	created := signedEtvas(t, s, fmt.Sprintf(`{"event":{"id":%q,"type":"user.create","timestamp":%d},
		"user":{"id":%q,"partnerId":null},
		"data":{"user":{"firstName":%q,"lastName":%q,"email":%q,"phone":%q,"country":"Germany"}}}`,
		newUUID(t), time.Now().UnixMilli(), userID, erasedFirst, erasedLast, erasedEmail, erasedPhone))
	var ack struct {
		Data struct {
			User struct {
				PartnerID string `json:"partnerId"`
			} `json:"user"`
		} `json:"data"`
	}
	if err := json.Unmarshal(created.Body, &ack); err != nil || created.Code != http.StatusOK || ack.Data.User.PartnerID == "" {
		t.Fatalf("user.create = %d %s (%v)", created.Code, created.Body, err)
	}
	var gc insurancev1.GetCustomerResponse
	decodeREST(t, s.JSON(t, http.MethodGet, "/v1/customers/"+ack.Data.User.PartnerID, apptest.AllKey, ""), &gc)
	c := gc.GetCustomer()
	if c.GetProfile().GetEmail() != erasedEmail || c.GetPartnerRefs().GetEtvasUserId() != userID {
		t.Fatalf("customer from user.create: %v", c)
	}

	// 1. An Etvas event we do not understand, about the same user, with personal data in it.
	unknown := fmt.Sprintf(`{"event":{"id":%q,"type":"user.loggedIn","timestamp":%d},"user":{"id":%q},
		"data":{"user":{"firstName":%q,"lastName":%q,"email":%q,"phone":%q}}}`,
		newUUID(t), time.Now().UnixMilli(), userID, erasedFirst, erasedLast, erasedEmail, erasedPhone)
	if r := signedEtvas(t, s, unknown); r.Code != http.StatusOK {
		t.Fatalf("unrecognized event = %d %s", r.Code, r.Body)
	}

	// 2. A publication through the API naming the customer.
	pub := s.JSON(t, http.MethodPost, "/v1/publications", apptest.AllKey, fmt.Sprintf(
		`{"eventType":"payment_status_updated","payload":{"payment":{"payer":%q,"email":%q,"phone":%q,"status":"PAID"}}}`,
		erasedFirst+" "+erasedLast, erasedEmail, erasedPhone))
	if pub.Code != http.StatusOK {
		t.Fatalf("publication = %d %s", pub.Code, pub.Body)
	}

	// 3. A claim on a custodial policy (no customer), filed with the customer's e-mail and a
	// reason naming them, with an Idempotency-Key (its answer is stored), and a document the
	// claimant named after themselves.
	policyID := activeCustodialPolicy(t, s)
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 receipt"))
	var up insurancev1.UploadClaimDocumentsResponse
	decodeREST(t, s.JSON(t, http.MethodPost, "/v1/policies/"+policyID+"/claim-documents", apptest.AllKey,
		`{"documents":[{"fileName":"`+erasedLast+` receipt.pdf","contentType":"application/pdf","content":"`+pdf+`"}]}`), &up)
	claimBody := fmt.Sprintf(`{"reason":"Stolen. %s %s, call %s","claimantEmail":%q,"documentKeys":[%q]}`,
		erasedFirst, erasedLast, erasedPhone, erasedEmail, up.GetDocuments()[0].GetDocumentKey())
	claim := s.Do(t, http.MethodPost, "/v1/policies/"+policyID+"/claims", apptest.AllKey, strings.NewReader(claimBody),
		map[string]string{"Idempotency-Key": "claim-" + strconv.FormatInt(time.Now().UnixNano(), 10)})
	if claim.Code != http.StatusOK {
		t.Fatalf("claim = %d %s", claim.Code, claim.Body)
	}

	// Everything is stored before the erasure, or the test proves nothing.
	before := storedBytes(t)
	for _, v := range personal {
		if !bytes.Contains(before, []byte(v)) {
			t.Fatalf("%q is not stored before the erasure: the test would prove nothing", v)
		}
	}
	if viaEtvas && !bytes.Contains(before, []byte(hex.EncodeToString([]byte(erasedPhone)))) {
		t.Fatal("no bytea column holds the phone number before the erasure: the dump check would prove nothing")
	}

	// 4. Erase, with a free-text reason that names the person.
	if viaEtvas {
		deleted := fmt.Sprintf(`{"event":{"id":%q,"type":"user.deleted","timestamp":%d},"user":{"id":%q}}`,
			newUUID(t), time.Now().UnixMilli(), userID)
		if r := signedEtvas(t, s, deleted); r.Code != http.StatusOK {
			t.Fatalf("user.deleted = %d %s", r.Code, r.Body)
		}
	} else {
		r := s.JSON(t, http.MethodPost, "/v1/customers/"+c.GetCustomerId()+":erase", apptest.AllKey, fmt.Sprintf(
			`{"reason":"GDPR request from %s %s (%s, %s)","reasonCode":"ERASURE_REASON_DATA_SUBJECT_REQUEST"}`,
			erasedFirst, erasedLast, erasedEmail, erasedPhone))
		if r.Code != http.StatusOK {
			t.Fatalf("erase = %d %s", r.Code, r.Body)
		}
	}
	got, err := s.App.Store().GetCustomer(ctx, c.GetCustomerId())
	if err != nil || got.Status != domain.CustomerErased {
		t.Fatalf("customer after erasure: %+v, %v", got, err)
	}
	// The event keeps the reason as a code with its fixed description.
	evs, err := s.App.Store().ListEvents(ctx, store.EventFilter{Types: []string{domain.EventCustomerErased}})
	if err != nil || len(evs.Items) != 1 {
		t.Fatalf("customer.erased events: %v, %v", evs.Items, err)
	}
	var data map[string]any
	if err := json.Unmarshal(evs.Items[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	want := domain.ErasureDataSubjectRequest
	if viaEtvas {
		want = domain.ErasurePartnerDeletion
	}
	if data["reason_code"] != string(want) || data["reason"] != want.Description() {
		t.Errorf("customer.erased data = %v", data)
	}
	// Business records stay.
	if _, err := s.App.Store().GetPolicy(ctx, policyID); err != nil {
		t.Errorf("custodial policy after erasure: %v", err)
	}

	after := storedBytes(t)
	logs := s.Logs.String()
	for _, v := range personal {
		// As written, and hex-encoded as pg_dump writes bytea columns.
		for _, form := range []string{v, hex.EncodeToString([]byte(v))} {
			if i := bytes.Index(after, []byte(form)); i >= 0 {
				lo, hi := max(0, i-80), min(len(after), i+len(form)+80)
				t.Errorf("%q is still stored after the erasure: …%q…", v, after[lo:hi])
			}
		}
		if strings.Contains(logs, v) {
			t.Errorf("%q is in the log", v)
		}
	}
	if found, err := s.App.Store().FindText(ctx, erasedEmail); err != nil || len(found) != 0 {
		t.Errorf("FindText(%s) = %v, %v", erasedEmail, found, err)
	}
}

// activeCustodialPolicy buys NFT cover with the sandbox merchant wallet as the buyer (no customer)
// and waits until Avata has accepted it.
func activeCustodialPolicy(t *testing.T, s *apptest.Server) string {
	t.Helper()
	var q insurancev1.CreateQuoteResponse
	decodeREST(t, s.JSON(t, http.MethodPost, "/v1/quotes", apptest.AllKey,
		`{"nft":{"chain":"CHAIN_ETHEREUM","nftContractAddress":"0x8a90cab2b38dba80c64b7734e58ee1db38b8992e","token":"TOKEN_ETH"},"totalValue":{"currencyCode":"ETH","amount":"1.5"}}`), &q)
	var p insurancev1.CreatePolicyResponse
	decodeREST(t, s.JSON(t, http.MethodPost, "/v1/policies", apptest.AllKey, fmt.Sprintf(`{"quoteId":%q,
		"nft":{"txId":"0x%s","currentBlock":"19000000","sourceAddress":"0x2222222222222222222222222222222222222222",
		"targetAddress":%q,"nftTokenId":"42"},"totalValue":{"currencyCode":"ETH","amount":"1.5"}}`,
		q.GetQuote().GetQuoteId(), strings.Repeat("a", 64), avatabox.DefaultMerchantWallet)), &p)
	id := p.GetPolicy().GetPolicyId()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var g insurancev1.GetPolicyResponse
		decodeREST(t, s.JSON(t, http.MethodGet, "/v1/policies/"+id, apptest.AllKey, ""), &g)
		if g.GetPolicy().GetStatus() == insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE {
			if g.GetPolicy().GetCustomerId() != "" {
				t.Fatalf("custodial policy has customer %s", g.GetPolicy().GetCustomerId())
			}
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy %s not ACTIVE: %v", id, g.GetPolicy().GetStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func signedEtvas(t *testing.T, s *apptest.Server, body string) apptest.Result {
	t.Helper()
	return s.Do(t, http.MethodPost, "/etvas-events", "", strings.NewReader(body), map[string]string{
		"x-api-key": etvasbox.DefaultAPIKey, "x-etvas-signature": etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), []byte(body)),
	})
}

func decodeREST(t *testing.T, r apptest.Result, out proto.Message) {
	t.Helper()
	if r.Code != http.StatusOK {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	if err := protojson.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func newUUID(t *testing.T) string {
	t.Helper()
	id, err := domain.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// pgDump dumps the test's schema (structure and data) with pg_dump: what an operator, a backup
// or an attacker with the database would see.
func pgDump(t *testing.T, dsn string) []byte {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	bin := "pg_dump"
	if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump"); len(matches) > 0 {
		bin = matches[len(matches)-1]
	}
	out, err := exec.Command(bin, "--no-owner", "-n", schema, "-d", u.String()).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pg_dump: %v: %s", err, stderr)
	}
	if !bytes.Contains(out, []byte("personal_refs")) {
		t.Fatalf("pg_dump of %s does not look like our schema", schema)
	}
	return out
}
