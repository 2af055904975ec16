package avata_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// A customer's wallet signs Avata's nonce in the frontend; the adapter only exchanges the
// signature and then uses the token it got, never renewing it itself.

func generatedWallet(t *testing.T) *ethsign.Wallet {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	w, err := ethsign.NewWallet(hex.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCustomerAccessToken(t *testing.T) {
	e := newEnv(t)
	w := generatedWallet(t)
	// Bought on Polygon: the wallet policies are asked on the token's chain (137), which is not
	// the adapter's configured one, and Avata lists a wallet's policies per chain.
	p, err := e.client.ProposeNFT(ctx(t), avata.NFTProposalRequest{
		TotalValue: num("2.5"), Chain: avata.ChainPolygon, NFTContractID: nftContract,
		MarketplaceContractID: market, CountryCode: "nl", Token: "ETH",
	})
	if err != nil {
		t.Fatalf("ProposeNFT: %v", err)
	}
	req := e.nftConfirmRequest(p, w.Address())
	req.Purchase.Chain = avata.ChainPolygon
	conf, err := e.client.ConfirmNFT(ctx(t), req)
	if err != nil {
		t.Fatalf("ConfirmNFT: %v", err)
	}
	policyUUID := conf.ID

	nonce, err := e.client.NonceOnChain(ctx(t), w.Address(), 137)
	if err != nil {
		t.Fatal(err)
	}
	// A signature by another wallet is refused by Avata: a precondition for the customer (sign
	// again), not our credentials failing.
	_, err = e.client.ExchangeSignature(ctx(t), w.Address(), mustSignMsg(t, generatedWallet(t), nonce), 137)
	if code, info := errorInfo(t, err); code != codes.FailedPrecondition || info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID) ||
		partnerhttp.KindOf(err) != avata.KindWalletSignatureInvalid {
		t.Fatalf("foreign signature = %v", err)
	}
	nonce, err = e.client.NonceOnChain(ctx(t), w.Address(), 137)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.client.ExchangeSignature(ctx(t), w.Address(), mustSignMsg(t, w, nonce), 137)
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := avata.TokenExp(tok)
	if !ok || exp.Before(time.Now()) || exp.After(time.Now().Add(time.Hour)) {
		t.Fatalf("token exp = %v, %v", exp, ok)
	}
	if _, ok := avata.TokenExp("not-a-jwt"); ok {
		t.Fatal("TokenExp read an expiry from garbage")
	}

	at := avata.AccessToken{Wallet: w.Address(), ChainID: 137, Token: tok}
	policies, err := e.client.PoliciesForWallet(ctx(t), at)
	if err != nil || len(policies) != 1 || policies[0].UUID != policyUUID {
		t.Fatalf("PoliciesForWallet = %+v, %v", policies, err)
	}
	for _, r := range e.sb.Kit().Requests() {
		if r.Path == avata.PathPoliciesForWallet && !strings.Contains(r.Body, `"chainId":137`) {
			t.Fatalf("wallet policies asked on another chain: %s", r.Body)
		}
	}
	// The token never shows in formatted values or logs.
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", at)
	for _, s := range []string{fmt.Sprint(at), fmt.Sprintf("%+v", at), fmt.Sprintf("%#v", at), logs.String()} {
		if strings.Contains(s, tok) {
			t.Fatalf("access token printed: %s", s)
		}
	}

	// Avata stops accepting the token: FAILED_PRECONDITION WALLET_SESSION_EXPIRED, and the
	// adapter does not sign in by itself (it cannot: only the customer's wallet can sign).
	signIns := e.count(avata.PathAuthToken)
	e.sb.RevokeTokens()
	_, err = e.client.PoliciesForWallet(ctx(t), at)
	if code, info := errorInfo(t, err); code != codes.FailedPrecondition || info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED) ||
		partnerhttp.KindOf(err) != avata.KindWalletSessionExpired {
		t.Fatalf("revoked token = %v", err)
	}
	if e.count(avata.PathAuthToken) != signIns {
		t.Fatal("the adapter signed in again for a customer's wallet")
	}
	_, err = e.client.PoliciesForWallet(ctx(t), avata.AccessToken{Wallet: w.Address()})
	if code, info := errorInfo(t, err); code != codes.FailedPrecondition || info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED) ||
		partnerhttp.KindOf(err) != avata.KindWalletSignInRequired {
		t.Fatalf("empty token = %v", err)
	}
}

func mustSignMsg(t *testing.T, w *ethsign.Wallet, msg string) string {
	t.Helper()
	sig, err := w.SignMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestClaimLinkWithOwnerSignature(t *testing.T) {
	e := newEnv(t)
	w := generatedWallet(t)
	const policyUUID = "0bc4470f-d4c3-4d35-b760-d2a4163c98fa"
	sig := mustSignMsg(t, w, policyUUID)
	link, err := e.client.ClaimLink(policyUUID, strings.ToUpper(sig[:2])+strings.ToUpper(sig[2:]))
	if err != nil || link != avata.DefaultPortalURL+"/merchant-claim/"+policyUUID+"/"+sig {
		t.Fatalf("ClaimLink = %s, %v", link, err)
	}
	// A wallet answering with v = 0/1 gets ethers' canonical v = 27/28 in the link.
	raw, _ := hex.DecodeString(sig[2:])
	raw[64] -= 27
	link, err = e.client.ClaimLink(policyUUID, "0x"+hex.EncodeToString(raw))
	if err != nil || !strings.HasSuffix(link, sig) {
		t.Fatalf("ClaimLink with v=0/1 = %s, %v", link, err)
	}
	if _, err := e.client.ClaimLink(policyUUID, "0x1234"); err == nil {
		t.Fatal("ClaimLink accepted a malformed signature")
	}
}
