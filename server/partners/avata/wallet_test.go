package avata_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
	sandbox "github.com/covergate/covergate/server/sandbox/avata"
)

func TestHardhatAccountOneAddress(t *testing.T) {
	e := newEnv(t)
	// Published Hardhat/Anvil account #1.
	if got := e.user.Address(); got != "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" {
		t.Fatalf("user wallet = %s", got)
	}
}

func TestWalletClaimFlow(t *testing.T) {
	e := newEnv(t)
	policyUUID := e.confirmNFT(t, e.user.Address())

	policies, err := e.client.PoliciesForWallet(ctx(t), e.user)
	if err != nil {
		t.Fatalf("PoliciesForWallet: %v", err)
	}
	if len(policies) != 1 || policies[0].UUID != policyUUID || policies[0].Status != avata.PolicyAccepted {
		t.Fatalf("policies = %+v", policies)
	}

	files := []avata.UploadFile{
		{Name: "police-report.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.7 report")},
		{Name: "foto ü.png", ContentType: "image/png", Content: bytes.Repeat([]byte{0x89, 'P'}, 5000)},
	}
	up, err := e.client.UploadClaimDocuments(ctx(t), e.user, policyUUID, files)
	if err != nil {
		t.Fatalf("UploadClaimDocuments: %v", err)
	}
	if len(up.Keys) != 2 || up.Keys[0] == up.Keys[1] {
		t.Fatalf("upload = %+v", up)
	}
	var upload *struct{ ct, body string }
	for _, r := range e.sb.Kit().Requests() {
		if r.Path == avata.PathClaimUpload {
			upload = &struct{ ct, body string }{r.Header["Content-Type"], r.Body}
		}
	}
	if upload == nil || !strings.HasPrefix(upload.ct, "multipart/form-data; boundary=") ||
		!strings.Contains(upload.body, `name="policyUuid"`) || !strings.Contains(upload.body, "Content-Type: application/pdf") {
		t.Fatalf("upload request = %+v", upload)
	}

	claim, err := e.client.CreateClaim(ctx(t), e.user, avata.CreateClaimRequest{
		Reason: "stolen", PolicyUUID: policyUUID, Email: "ada@example.com",
		Files: []avata.ClaimFile{{FileName: files[0].Name, FileVersion: "1", Key: up.Keys[0]}, {FileName: files[1].Name, FileVersion: "1", Key: up.Keys[1]}},
	})
	if err != nil {
		t.Fatalf("CreateClaim: %v", err)
	}
	// As documented, the create answer carries no claim uuid.
	if claim.Status != avata.ClaimCreated || claim.Policy.UUID != policyUUID || claim.UUID != "" || len(claim.Files) != 2 {
		t.Fatalf("claim = %+v", claim)
	}
	claimUUID, ok := e.sb.ClaimUUID(policyUUID)
	if !ok {
		t.Fatal("sandbox has no claim")
	}

	// The sandbox walks the claim to APPROVED, one signed callback per step, in
	// order; the callbacks are where the claim uuid shows.
	for _, want := range []avata.ClaimStatus{avata.ClaimPending, avata.ClaimReviewed, avata.ClaimApproved} {
		cb := e.gw.next(t)
		if cb.Claim == nil || cb.Claim.Status != want || cb.Claim.UUID != claimUUID || cb.Claim.PolicyUUID != policyUUID || cb.Claim.Details.ClaimID == "" {
			t.Fatalf("callback = %+v, want claim %s", cb.Claim, want)
		}
	}
	got, err := e.client.ClaimStatus(ctx(t), e.user, policyUUID)
	if err != nil || got.Status != avata.ClaimApproved || got.Policy.UUID != policyUUID {
		t.Fatalf("ClaimStatus = %+v, %v", got, err)
	}

	// One nonce, one sign-in for all wallet calls: the JWT was reused.
	if n, s := e.count(avata.PathAuthNonce), e.count(avata.PathAuthToken); n != 1 || s != 1 {
		t.Fatalf("nonce requests %d, sign-ins %d; want 1 and 1", n, s)
	}
	if e.gw.rejected.Load() != 0 {
		t.Fatal("gateway rejected a callback signature")
	}
}

func TestClaimRules(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config, _ *avata.Config) { c.ClaimSteps = nil })
	policyUUID := e.confirmNFT(t, e.user.Address())
	up, err := e.client.UploadClaimDocuments(ctx(t), e.user, policyUUID, []avata.UploadFile{{Name: "a.txt", Content: []byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	other := e.confirmNFT(t, e.user.Address())
	tests := []struct {
		name     string
		req      avata.CreateClaimRequest
		wantCode codes.Code
		wantHTTP string
	}{
		{"unknown key", avata.CreateClaimRequest{Reason: "r", PolicyUUID: policyUUID, Email: "a@example.com",
			Files: []avata.ClaimFile{{FileName: "a.txt", Key: "claims/nope"}}}, codes.InvalidArgument, "422"},
		{"key of another policy", avata.CreateClaimRequest{Reason: "r", PolicyUUID: other, Email: "a@example.com",
			Files: []avata.ClaimFile{{FileName: "a.txt", Key: up.Keys[0]}}}, codes.InvalidArgument, "422"},
		{"missing e-mail", avata.CreateClaimRequest{Reason: "r", PolicyUUID: policyUUID,
			Files: []avata.ClaimFile{{FileName: "a.txt", Key: up.Keys[0]}}}, codes.InvalidArgument, "400"},
		{"unknown policy", avata.CreateClaimRequest{Reason: "r", PolicyUUID: "0bc4470f-d4c3-4d35-b760-d2a4163c98fa", Email: "a@example.com",
			Files: []avata.ClaimFile{{FileName: "a.txt", Key: up.Keys[0]}}}, codes.NotFound, "404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreateClaim(ctx(t), e.user, tc.req)
			code, info := errorInfo(t, err)
			if code != tc.wantCode || info.Metadata["http_status"] != tc.wantHTTP {
				t.Fatalf("code %v info %+v", code, info)
			}
		})
	}
	good := avata.CreateClaimRequest{Reason: "r", PolicyUUID: policyUUID, Email: "a@example.com",
		Files: []avata.ClaimFile{{FileName: "a.txt", FileVersion: "1", Key: up.Keys[0]}}}
	if _, err := e.client.CreateClaim(ctx(t), e.user, good); err != nil {
		t.Fatalf("CreateClaim: %v", err)
	}
	_, err = e.client.CreateClaim(ctx(t), e.user, good)
	if code, info := errorInfo(t, err); code != codes.Aborted || info.Metadata["partner_code"] != avata.CodeClaimExists {
		t.Fatalf("second claim: %v %+v", code, info)
	}
	if _, err := e.client.ClaimStatus(ctx(t), e.user, other); err == nil {
		t.Fatal("claim status for a policy without claim")
	} else if code, _ := errorInfo(t, err); code != codes.NotFound {
		t.Fatalf("code = %v", code)
	}

	// A rejected policy takes no claim (409) — moved by the sandbox control.
	if err := e.sb.SetPolicyStatus(other, string(avata.PolicyRejected)); err != nil {
		t.Fatal(err)
	}
	if cb := e.gw.next(t); cb.Policy.UUID != other || cb.Policy.Status != avata.PolicyRejected {
		t.Fatalf("callback = %+v", cb.Policy)
	}
	up2, err := e.client.UploadClaimDocuments(ctx(t), e.user, other, []avata.UploadFile{{Name: "b.txt", Content: []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreateClaim(ctx(t), e.user, avata.CreateClaimRequest{Reason: "r", PolicyUUID: other, Email: "a@example.com",
		Files: []avata.ClaimFile{{FileName: "b.txt", Key: up2.Keys[0]}}})
	if code, info := errorInfo(t, err); code != codes.Aborted || info.Metadata["partner_code"] != avata.CodeInvalidState {
		t.Fatalf("claim on rejected policy: %v %+v", code, info)
	}
}

func TestUploadValidatedBeforeCall(t *testing.T) {
	e := newEnv(t, func(_ *sandbox.Config, c *avata.Config) { c.MaxUploadBytes = 1024 })
	const policy = "0bc4470f-d4c3-4d35-b760-d2a4163c98fa"
	tests := []struct {
		name   string
		files  []avata.UploadFile
		reason insurancev1.ErrorReason
	}{
		{"no files", nil, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED},
		{"empty file", []avata.UploadFile{{Name: "a", Content: nil}}, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED},
		{"path in name", []avata.UploadFile{{Name: "../etc/passwd", Content: []byte("x")}}, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED},
		{"bad content type", []avata.UploadFile{{Name: "a", ContentType: "///", Content: []byte("x")}}, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED},
		{"too large in total", []avata.UploadFile{{Name: "a", Content: make([]byte, 600)}, {Name: "b", Content: make([]byte, 600)}},
			insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.UploadClaimDocuments(ctx(t), e.user, policy, tc.files)
			code, info := errorInfo(t, err)
			if code != codes.InvalidArgument || info.Reason != apierror.Reason(tc.reason) {
				t.Fatalf("code %v info %+v", code, info)
			}
		})
	}
	if n := len(e.sb.Kit().Requests()); n != 0 {
		t.Fatalf("%d requests reached Avata; want none", n)
	}
}

func TestWalletReSignIn(t *testing.T) {
	tests := []struct {
		name       string
		invalidate func(e *env)
		want401    int // 401 answers the sandbox journaled
	}{
		// The adapter sees exp approaching and signs in before calling: no 401.
		{"expiry", func(e *env) { e.clock.Advance(sandbox.DefaultTokenTTL) }, 0},
		// The sandbox revokes the token: one 401, one new sign-in, the call succeeds.
		{"revoked (401)", func(e *env) { e.sb.RevokeTokens() }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.client.PoliciesForWallet(ctx(t), e.user); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.PoliciesForWallet(ctx(t), e.user); err != nil {
				t.Fatal(err)
			}
			if n := e.count(avata.PathAuthToken); n != 1 {
				t.Fatalf("sign-ins before invalidation = %d, want 1", n)
			}
			tc.invalidate(e)
			if _, err := e.client.PoliciesForWallet(ctx(t), e.user); err != nil {
				t.Fatalf("after invalidation: %v", err)
			}
			if n := e.count(avata.PathAuthToken); n != 2 {
				t.Fatalf("sign-ins = %d, want 2", n)
			}
			unauthorized := 0
			for _, r := range e.sb.Kit().Requests() {
				if r.Status == 401 {
					unauthorized++
				}
			}
			if unauthorized != tc.want401 {
				t.Fatalf("401 answers = %d, want %d", unauthorized, tc.want401)
			}
		})
	}
}

func TestConcurrentWalletCallsShareOneSignIn(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := e.client.PoliciesForWallet(ctx(t), e.user)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(avata.PathAuthToken); n != 1 {
		t.Fatalf("sign-ins = %d, want 1", n)
	}
}

func TestSignInFailsForForeignSigner(t *testing.T) {
	e := newEnv(t)
	// A signer that claims one address but signs with another key.
	_, err := e.client.SignIn(ctx(t), liar{e})
	code, info := errorInfo(t, err)
	if code != codes.Unavailable || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED) || info.Metadata["http_status"] != "401" {
		t.Fatalf("code %v info %+v", code, info)
	}
}

type liar struct{ e *env }

func (l liar) Address() string { return "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" }
func (l liar) SignMessage(m string) (string, error) {
	return l.e.user.SignMessage(m)
}

func TestForeignPolicyIsPermissionDenied(t *testing.T) {
	e := newEnv(t)
	policyUUID := e.confirmNFT(t, e.user.Address())
	stranger, err := ethsign.NewWallet(merchantKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.ClaimStatus(ctx(t), stranger, policyUUID)
	code, info := errorInfo(t, err)
	if code != codes.PermissionDenied || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED) ||
		info.Metadata["http_status"] != "403" || info.Metadata["partner_code"] != avata.CodeForbidden {
		t.Fatalf("code %v info %+v", code, info)
	}
	_, err = e.client.UploadClaimDocuments(ctx(t), stranger, policyUUID, []avata.UploadFile{{Name: "a", Content: []byte("a")}})
	if code, _ := errorInfo(t, err); code != codes.PermissionDenied {
		t.Fatalf("upload by stranger: %v", code)
	}
}
