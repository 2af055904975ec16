package partnerops

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/pgtest"
	"github.com/covergate/covergate/server/store/postgres"
	"github.com/covergate/covergate/server/store/sqlite"
)

// These tests put Ops between a real store (SQLite file and PostgreSQL) and the Avata sandbox
// over HTTP, and simulate a process that dies between Avata's yes and our commit: the intent
// is recorded, the partner call succeeds, the outcome is never recorded. A fresh Ops (the
// restarted process) must resolve it through the reconciler, exactly once.

type env struct {
	store  store.Store
	sb     *avatabox.Server
	client *avata.Client
	lc     *lifecycle.Lifecycle
}

func engines(t *testing.T) map[string]func(t *testing.T) store.Store {
	quiet := store.Options{Logger: slog.New(slog.DiscardHandler)}
	return map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), t.TempDir()+"/covergate.db", quiet)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), pgtest.FreshDSN(t), quiet)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	cfg := avatabox.DefaultConfig()
	cfg.PolicyAcceptDelay = 0 // accepted at once; no gateway: no callbacks
	cfg.ClaimSteps = nil
	cfg.Readings.ClaimUUID = avatabox.ClaimUUIDAbsent // as documented: create and status answers carry no claim uuid
	sb := avatabox.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	client, err := avata.New(avata.Config{
		BaseURL: srv.URL, APIKey: avatabox.DefaultAPIKey, BrandID: avatabox.DefaultBrandID,
		MerchantWalletKey: avatabox.DefaultMerchantWalletKey,
		HTTP: partnerhttp.Config{
			AttemptTimeout: 5 * time.Second, MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
			Breaker: partnerhttp.BreakerConfig{ConsecutiveFailures: 50, OpenDuration: time.Second},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		srv.Close()
		sb.Close()
	})
	return &env{store: st, sb: sb, client: client, lc: lifecycle.New(lifecycle.Config{})}
}

// process is one run of the gateway's partner-call machinery.
func (e *env) process(t *testing.T, callTimeout time.Duration) *Ops {
	t.Helper()
	o, err := New(Config{Store: e.store, Lifecycle: e.lc, Avata: e.client, CallTimeout: callTimeout, RecheckAfter: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Wait)
	return o
}

func (e *env) calls(method, path string) int {
	n := 0
	for _, r := range e.sb.Kit().Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// purchase asks the sandbox for a proposal and returns the purchase that confirms it, bought
// with the merchant wallet (custodial), as the API builds it.
func (e *env) purchase(t *testing.T) Purchase {
	t.Helper()
	ctx := context.Background()
	total, err := avata.DecimalToNumber("1.5")
	if err != nil {
		t.Fatal(err)
	}
	prop, err := e.client.ProposeNFT(ctx, avata.NFTProposalRequest{
		TotalValue: total, Chain: "ETHEREUM", NFTContractID: "0x1111111111111111111111111111111111111111", Token: "ETH",
	})
	if err != nil {
		t.Fatal(err)
	}
	policyID, err := domain.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return Purchase{
		QuoteID: "quote-" + policyID, RequestHash: "hash-" + policyID,
		Policy: domain.Policy{
			ID: policyID, Partner: domain.PartnerAvata, Kind: domain.KindNFT, ProductName: "Avata NFT cover",
			Status: domain.PolicyPending, Premium: domain.Money{Amount: "0.0375", Currency: "ETH"}, AvataReference: policyID,
		},
		NFT: &avata.NFTConfirmRequest{Proposal: avata.ProposalRef{ID: prop.ID}, Purchase: avata.NFTPurchase{
			TotalValue: total, Chain: "ETHEREUM", Token: "ETH", NFTContractID: "0x1111111111111111111111111111111111111111",
			NFTTokenID: "7", CurrentBlock: "19000000", TxID: "0x" + strings.Repeat("a", 64),
			Source: "0x2222222222222222222222222222222222222222", Target: avatabox.DefaultMerchantWallet, Reference: policyID,
		}},
		Source: lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelAPI, Ref: "test"},
	}
}

// dueNow makes a recorded call due for the reconciler (the crashed process's budget is over).
func (e *env) dueNow(t *testing.T, c domain.PartnerCall) {
	t.Helper()
	err := e.store.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.GetPartnerCall(ctx, c.ID)
		if err != nil {
			return err
		}
		cur.NextCheckTime = time.Now().Add(-time.Second)
		_, err = tx.UpdatePartnerCall(ctx, cur, cur.Version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) policies(t *testing.T) []domain.Policy {
	t.Helper()
	page, err := e.store.ListPolicies(context.Background(), store.PolicyFilter{}, store.PageRequest{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func TestCrashAfterConfirmIsReconciled(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, open(t))
			in := e.purchase(t)

			// The process that dies: intent recorded, Avata says yes, nothing else recorded.
			dying := e.process(t, 5*time.Second)
			req, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			call, err := dying.begin(ctx, domain.PartnerCall{
				Operation: domain.OpAvataConfirm, Subject: domain.SubjectPolicies + in.Policy.ID,
				DedupeKey: confirmKey(in.QuoteID), RequestHash: in.RequestHash, Request: req,
			})
			if err != nil {
				t.Fatal(err)
			}
			conf, err := e.client.ConfirmNFT(ctx, *in.NFT)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.policies(t); len(got) != 0 {
				t.Fatalf("before reconciliation: %d policies", len(got))
			}
			// Not due yet: the reconciler leaves a call in flight alone.
			restarted := e.process(t, 5*time.Second)
			if n, err := restarted.ReconcileDue(ctx, 10); err != nil || n != 0 {
				t.Fatalf("reconcile before the call is due = %d, %v", n, err)
			}
			e.dueNow(t, call)
			if n, err := restarted.ReconcileDue(ctx, 10); err != nil || n != 1 {
				t.Fatalf("reconcile = %d, %v", n, err)
			}
			got := e.policies(t)
			if len(got) != 1 || got[0].ID != in.Policy.ID || got[0].AvataPolicyUUID != conf.ID {
				t.Fatalf("after reconciliation: %+v, want policy %s with Avata uuid %s", got, in.Policy.ID, conf.ID)
			}
			// The sandbox accepted the policy at once; the wallet listing carried that status.
			if got[0].Status != domain.PolicyActive {
				t.Fatalf("reconciled policy status %s, want ACTIVE", got[0].Status)
			}
			settled, err := e.store.GetPartnerCall(ctx, call.ID)
			if err != nil {
				t.Fatal(err)
			}
			if settled.State != domain.PartnerCallSucceeded || len(settled.Request) != 0 || settled.Attempts != 2 {
				t.Fatalf("settled call: %+v", settled)
			}
			// The resend was refused as already confirmed: Avata confirmed once.
			if n := e.calls("POST", avata.PathNFTConfirm); n != 2 {
				t.Fatalf("confirm calls = %d, want the original and one resend", n)
			}
			// A retry of the same purchase gets the recorded policy, without calling Avata.
			p, err := restarted.Buy(ctx, in)
			if err != nil || p.ID != in.Policy.ID {
				t.Fatalf("retry = %+v, %v", p, err)
			}
			if n := e.calls("POST", avata.PathNFTConfirm); n != 2 {
				t.Fatalf("confirm calls after the retry = %d", n)
			}
			// Nothing is due any more.
			if n, err := restarted.ReconcileDue(ctx, 10); err != nil || n != 0 {
				t.Fatalf("second round = %d, %v", n, err)
			}
		})
	}
}

func TestLostConfirmAnswerIsReconciled(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, open(t))
			in := e.purchase(t)
			// Avata answers after our call budget: the answer is lost, the outcome unknown.
			e.sb.Kit().SetFaults(sandboxkit.Faults{LatencyMS: 400, Paths: []string{avata.PathNFTConfirm}})
			o := e.process(t, 150*time.Millisecond)
			if _, err := o.Buy(ctx, in); err == nil {
				t.Fatal("Buy succeeded although the answer came after the call budget")
			}
			call, err := e.store.FindPartnerCall(ctx, confirmKey(in.QuoteID))
			if err != nil {
				t.Fatal(err)
			}
			if call.State != domain.PartnerCallPending || call.LastError == "" || len(e.policies(t)) != 0 {
				t.Fatalf("after a lost answer: %+v, %d policies", call, len(e.policies(t)))
			}
			e.sb.Kit().SetFaults(sandboxkit.Faults{})
			e.dueNow(t, call)
			if _, err := o.ReconcileDue(ctx, 10); err != nil {
				t.Fatal(err)
			}
			got := e.policies(t)
			if len(got) != 1 || got[0].ID != in.Policy.ID || got[0].AvataPolicyUUID == "" {
				t.Fatalf("after reconciliation: %+v", got)
			}
			if _, ok := e.sb.PolicyStatus(got[0].AvataPolicyUUID); !ok {
				t.Fatalf("Avata does not know policy %s", got[0].AvataPolicyUUID)
			}
		})
	}
}

func TestCrashAfterClaimCreateIsReconciled(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, open(t))
			o := e.process(t, 5*time.Second)
			p, err := o.Buy(ctx, e.purchase(t))
			if err != nil {
				t.Fatal(err)
			}
			signer := e.client.MerchantWallet()
			up, err := e.client.UploadClaimDocuments(ctx, signer, p.AvataPolicyUUID, []avata.UploadFile{
				{Name: "receipt.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 receipt")},
			})
			if err != nil {
				t.Fatal(err)
			}
			claimID, err := domain.NewID()
			if err != nil {
				t.Fatal(err)
			}
			in := ClaimFiling{
				Policy: p, RequestHash: "claim-hash",
				Claim: domain.Claim{ID: claimID, Reason: "The NFT never arrived.", ClaimantEmail: "ada@example.com", DocumentKeys: up.Keys},
				Request: avata.CreateClaimRequest{Reason: "The NFT never arrived.", PolicyUUID: p.AvataPolicyUUID, Email: "ada@example.com",
					Files: []avata.ClaimFile{{FileName: "receipt.pdf", FileVersion: "1", Key: up.Keys[0]}}},
			}
			req, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			call, err := o.begin(ctx, domain.PartnerCall{
				Operation: domain.OpAvataClaimCreate, Subject: domain.SubjectClaims + claimID, DedupeKey: ClaimKey(p.ID),
				RequestHash: in.RequestHash, Request: req, CustomerID: p.CustomerID,
			})
			if err != nil {
				t.Fatal(err)
			}
			remote, err := e.client.CreateClaim(ctx, signer, in.Request)
			if err != nil {
				t.Fatal(err)
			}
			if remote.UUID != "" {
				t.Fatalf("the documented create-claim answer carries no uuid, got %q", remote.UUID)
			}
			// The restarted process: Avata's claim status on the policy shows a claim we do not
			// hold, so ours got through: it is recorded without filing it again.
			restarted := e.process(t, 5*time.Second)
			e.dueNow(t, call)
			if _, err := restarted.ReconcileDue(ctx, 10); err != nil {
				t.Fatal(err)
			}
			claims, err := e.store.ListClaims(ctx, store.ClaimFilter{PolicyID: p.ID}, store.PageRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(claims.Items) != 1 || claims.Items[0].ID != claimID || claims.Items[0].Reason != in.Claim.Reason ||
				claims.Items[0].Status != domain.ClaimCreated {
				t.Fatalf("claims after reconciliation: %+v", claims.Items)
			}
			if n := e.calls("POST", avata.PathClaimCreate); n != 1 {
				t.Fatalf("claim create calls = %d, want 1", n)
			}
			settled, err := e.store.GetPartnerCall(ctx, call.ID)
			if err != nil || settled.State != domain.PartnerCallSucceeded {
				t.Fatalf("settled call: %+v, %v", settled, err)
			}
			// The same claim again (a retry) gets the recorded claim.
			again, err := restarted.FileClaim(ctx, in)
			if err != nil || again.ID != claimID {
				t.Fatalf("retry = %+v, %v", again, err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	perr := func(status int, reason string) error {
		e := &partnerhttp.Error{HTTPStatus: status}
		switch reason {
		case "open":
			e.Kind = partnerhttp.KindCircuitOpen
		case "timeout":
			e.Kind = partnerhttp.KindTimeout
		case "rejected":
			e.Kind = partnerhttp.KindRejected
		case "too large":
			e.Kind = partnerhttp.KindInputTooLarge
		case "internal":
			e.Kind = partnerhttp.KindInternal
		case "unavailable":
			e.Kind = partnerhttp.KindUnavailable
		}
		return &avata.Error{HTTP: e}
	}
	tests := []struct {
		name string
		err  error
		want outcome
	}{
		{"422 refused", perr(http.StatusUnprocessableEntity, ""), outcomeNo},
		{"409 conflict", perr(http.StatusConflict, ""), outcomeNo},
		{"503 not processed", perr(http.StatusServiceUnavailable, ""), outcomeNo},
		{"429 not processed", perr(http.StatusTooManyRequests, ""), outcomeNo},
		{"breaker open: never sent", perr(0, "open"), outcomeNo},
		{"timeout", perr(0, "timeout"), outcomeUnknown},
		{"rejected before sending", perr(0, "rejected"), outcomeNo},
		{"too large before sending", perr(0, "too large"), outcomeNo},
		{"request not built", perr(0, "internal"), outcomeNo},
		{"transport error", perr(0, "unavailable"), outcomeUnknown},
		{"500", perr(http.StatusInternalServerError, ""), outcomeUnknown},
		{"504", perr(http.StatusGatewayTimeout, ""), outcomeUnknown},
		{"unreadable 200", perr(http.StatusOK, ""), outcomeUnknown},
		{"context", context.DeadlineExceeded, outcomeUnknown},
		{"anything else", errors.New("boom"), outcomeUnknown},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("%s: classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}
