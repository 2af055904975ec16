package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/tokenseal"
)

// Customers' own wallets (non-custodial policies). Avata's wallet-scoped calls (claim document
// upload, claim creation, claim status, a wallet's policies) need an access token obtained by
// signing Avata's nonce with the wallet that owns the policy. For policies bought to our merchant
// wallet the adapter signs itself; for a customer's own wallet the customer's wallet signs in the
// frontend:
//
//	StartWalletSignIn   → Avata nonce for the wallet, kept as the pending sign-in message
//	(wallet signs it)     ethers signMessage(message), EIP-191
//	CompleteWalletSignIn → signature checked here (recovers to the wallet over the pending
//	                      message), exchanged with Avata for the access token, which is sealed
//	                      (AES-GCM, bound to customer and wallet) and stored as the customer's
//	                      wallet session; never returned, never logged
//
// When the token's expiry (its JWT exp, else the configured TTL) has passed, or Avata answers 401
// to it, calls that need it fail with FAILED_PRECONDITION WALLET_SESSION_EXPIRED: the frontend
// has the customer sign in again and retries. Nothing is renewed behind the customer's back: only
// the customer's wallet can sign.

// walletSessionAD binds a sealed token to its customer and wallet: a ciphertext copied to another
// customer's row does not open.
func walletSessionAD(customerID, wallet string) []byte {
	return []byte("covergate/avata-wallet-session/v1|" + customerID + "|" + strings.ToLower(wallet))
}

func (d Deps) walletSessionTTL() time.Duration {
	if d.Settings.WalletSessionTTL > 0 {
		return d.Settings.WalletSessionTTL
	}
	return DefaultWalletSessionTTL
}

func (d Deps) walletNonceTTL() time.Duration {
	if d.Settings.WalletNonceTTL > 0 {
		return d.Settings.WalletNonceTTL
	}
	return DefaultWalletNonceTTL
}

// walletAddress validates a 0x address (a mixed-case one must carry a correct EIP-55 checksum)
// and returns its checksummed form.
func walletAddress(field, addr string) (string, error) {
	w, err := ethsign.NormalizeAddress(addr)
	if err != nil {
		return "", invalidField(field, "address.checksum", field+" is not a valid wallet address: "+strings.TrimPrefix(err.Error(), "ethsign: "))
	}
	return w, nil
}

// signatureInvalid is INVALID_ARGUMENT WALLET_SIGNATURE_INVALID naming the field and the wallet
// the signature had to come from.
func signatureInvalid(field, wallet, msg string) error {
	st := apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID, msg,
		"wallet_address", wallet, "field", field)
	withBR, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
		Field: field, Description: msg, Reason: "signature.signer",
	}}})
	if err != nil {
		return st.Err()
	}
	return withBR.Err()
}

func signInRequired(customerID, wallet, msg string) error {
	return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED, msg,
		"customer_id", customerID, "wallet_address", wallet)
}

func sessionExpired(customerID, wallet string, at time.Time) error {
	return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED,
		"the customer's wallet session expired at "+at.UTC().Format(time.RFC3339)+": have the customer sign in with wallet "+wallet+
			" again (wallet-session:start, then :complete) and retry",
		"customer_id", customerID, "wallet_address", wallet, "expire_time", at.UTC().Format(time.RFC3339))
}

// isMerchantWallet reports whether addr is our merchant wallet, which is never a customer's.
func (d Deps) isMerchantWallet(addr string) bool {
	w := d.Avata.MerchantWallet()
	return w != nil && strings.EqualFold(w.Address(), addr)
}

// StartWalletSignIn asks Avata for a nonce for the customer's wallet and keeps it as the pending
// sign-in message. A live session of the same wallet stays usable until the sign-in completes.
func (s *CustomerService) StartWalletSignIn(ctx context.Context, req *insurancev1.StartWalletSignInRequest) (*insurancev1.StartWalletSignInResponse, error) {
	wallet, err := walletAddress("wallet_address", req.GetWalletAddress())
	if err != nil {
		return nil, err
	}
	c, err := activeCustomer(ctx, s.d.Store, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	if err := s.walletMayBeCustomers(c, wallet); err != nil {
		return nil, err
	}
	// Refused before Avata is asked: the wallet of another customer (checked again on completion).
	if owner, err := s.d.Store.FindCustomerByAvataWallet(ctx, wallet); err == nil && owner.ID != c.ID {
		return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			"wallet "+wallet+" belongs to another customer", "resource", "customer", "wallet_address", wallet)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, storeError(err, "customer")
	}
	chainID := req.GetChainId()
	if chainID == 0 {
		chainID = s.d.Avata.ChainID()
	}
	nonce, err := s.d.Avata.NonceOnChain(ctx, wallet, chainID)
	if err != nil {
		return nil, err
	}
	now := s.d.now()
	sess := domain.WalletSession{CustomerID: c.ID, Wallet: wallet, ChainID: chainID, Nonce: nonce, NonceExpireTime: now.Add(s.d.walletNonceTTL())}
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := s.d.Lifecycle.StartWalletSignIn(ctx, tx, sess)
		return err
	})
	if err != nil {
		return nil, storeError(err, "customer")
	}
	return &insurancev1.StartWalletSignInResponse{
		WalletAddress: wallet, ChainId: chainID, Message: nonce, ExpireTime: ts(sess.NonceExpireTime),
	}, nil
}

// walletMayBeCustomers refuses our merchant wallet and a wallet other than the customer's own.
func (s *CustomerService) walletMayBeCustomers(c domain.Customer, wallet string) error {
	if s.d.isMerchantWallet(wallet) {
		return invalidField("wallet_address", "wallet.merchant", "wallet_address is our merchant wallet, not a customer's")
	}
	if c.AvataWallet != "" && !strings.EqualFold(c.AvataWallet, wallet) {
		return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			"customer "+c.ID+" has another wallet; sign in with that one", "resource", "customer", "wallet_address", c.AvataWallet)
	}
	return nil
}

// CompleteWalletSignIn checks the signature of the pending message, exchanges it with Avata for
// the access token and stores the token sealed. The wallet becomes the customer's wallet if the
// customer had none.
func (s *CustomerService) CompleteWalletSignIn(ctx context.Context, req *insurancev1.CompleteWalletSignInRequest) (*insurancev1.CompleteWalletSignInResponse, error) {
	wallet, err := walletAddress("wallet_address", req.GetWalletAddress())
	if err != nil {
		return nil, err
	}
	c, err := activeCustomer(ctx, s.d.Store, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	if err := s.walletMayBeCustomers(c, wallet); err != nil {
		return nil, err
	}
	pending, err := s.d.Store.GetWalletSession(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (pending.Nonce == "" || pending.Wallet != strings.ToLower(wallet))) {
		return nil, signInRequired(c.ID, wallet, "no wallet sign-in is pending for this customer and wallet: call wallet-session:start first")
	}
	if err != nil {
		return nil, storeError(err, "customer")
	}
	now := s.d.now()
	if !now.Before(pending.NonceExpireTime) {
		return nil, signInRequired(c.ID, wallet, "the sign-in message expired at "+pending.NonceExpireTime.UTC().Format(time.RFC3339)+": start the sign-in again")
	}
	// Checked here first: a wrong signature gets a clear answer and never reaches Avata.
	if err := ethsign.VerifyMessage(pending.Nonce, req.GetSignature(), wallet); err != nil {
		return nil, signatureInvalid("signature", wallet,
			"signature is not wallet "+wallet+"'s signature of the sign-in message (ethers signMessage of the exact message from wallet-session:start)")
	}
	token, err := s.d.Avata.ExchangeSignature(ctx, wallet, req.GetSignature(), pending.ChainID)
	if err != nil {
		if apierror.ReasonOf(err) == insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID.String() {
			// Avata refused a signature that is correct here: its nonce is spent or expired.
			s.clearPending(ctx, c.ID, pending)
		}
		return nil, err
	}
	expiry, ok := avata.TokenExp(token)
	if !ok {
		expiry = now.Add(s.d.walletSessionTTL())
	}
	sess := domain.WalletSession{
		CustomerID: c.ID, Wallet: wallet, ChainID: pending.ChainID, ExpireTime: expiry,
		TokenCiphertext: s.d.WalletTokens.Seal([]byte(token), walletSessionAD(c.ID, wallet)),
	}
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		stored, err := s.d.Lifecycle.CompleteWalletSignIn(ctx, tx, sess, apiSource(ctx, domain.PartnerAvata))
		if err == nil {
			sess = stored
		}
		return err
	})
	switch {
	case errors.Is(err, lifecycle.ErrCustomerErased):
		return nil, invalidState("customer "+c.ID+" has been erased", "resource", "customer")
	case errors.Is(err, store.ErrConflict):
		return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			"wallet "+wallet+" belongs to another customer", "resource", "customer", "wallet_address", wallet)
	case err != nil:
		return nil, storeError(err, "customer")
	}
	return &insurancev1.CompleteWalletSignInResponse{Session: s.sessionToProto(sess)}, nil
}

// clearPending forgets a pending sign-in message Avata no longer accepts (best effort: the
// answer to the caller is the same either way).
func (s *CustomerService) clearPending(ctx context.Context, customerID string, pending domain.WalletSession) {
	err := s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return s.d.Lifecycle.ForgetWalletSignIn(ctx, tx, pending)
	})
	if err != nil {
		s.d.logger().WarnContext(ctx, "could not clear a refused wallet sign-in message", "customer_id", customerID, "error", err)
	}
}

func (s *CustomerService) sessionToProto(w domain.WalletSession) *insurancev1.WalletSession {
	addr, err := ethsign.NormalizeAddress(w.Wallet)
	if err != nil {
		addr = w.Wallet
	}
	return &insurancev1.WalletSession{
		CustomerId: w.CustomerID, WalletAddress: addr, ChainId: w.ChainID,
		ExpireTime: ts(w.ExpireTime), CreateTime: ts(w.CreateTime),
		Expired: len(w.TokenCiphertext) == 0 || !s.d.now().Before(w.ExpireTime),
	}
}

// GetWalletSession returns the customer's wallet session without its token.
func (s *CustomerService) GetWalletSession(ctx context.Context, req *insurancev1.GetWalletSessionRequest) (*insurancev1.GetWalletSessionResponse, error) {
	if _, err := s.d.Store.GetCustomer(ctx, req.GetCustomerId()); err != nil {
		return nil, storeError(err, "customer")
	}
	w, err := s.d.Store.GetWalletSession(ctx, req.GetCustomerId())
	if err == nil && len(w.TokenCiphertext) == 0 && w.ExpireTime.IsZero() {
		err = store.ErrNotFound // only a sign-in message is pending: no session yet
	}
	if err != nil {
		return nil, storeError(err, "wallet_session")
	}
	return &insurancev1.GetWalletSessionResponse{Session: s.sessionToProto(w)}, nil
}

// DeleteWalletSession signs the customer's wallet out: the token is deleted.
func (s *CustomerService) DeleteWalletSession(ctx context.Context, req *insurancev1.DeleteWalletSessionRequest) (*insurancev1.DeleteWalletSessionResponse, error) {
	if _, err := s.d.Store.GetCustomer(ctx, req.GetCustomerId()); err != nil {
		return nil, storeError(err, "customer")
	}
	err := s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := s.d.Lifecycle.DeleteWalletSession(ctx, tx, req.GetCustomerId())
		return err
	})
	if err != nil {
		return nil, storeError(err, "customer")
	}
	return &insurancev1.DeleteWalletSessionResponse{}, nil
}

// customerToken opens the customer's access token for wallet, or explains why there is none:
// WALLET_SIGN_IN_REQUIRED (never signed in with that wallet) or WALLET_SESSION_EXPIRED.
func (d Deps) customerToken(ctx context.Context, customerID, wallet string) (avata.AccessToken, error) {
	display := wallet
	if a, err := ethsign.NormalizeAddress(wallet); err == nil {
		display = a
	}
	if customerID == "" {
		return avata.AccessToken{}, signInRequired("", display, "the policy was bought to wallet "+display+" but has no customer to sign in")
	}
	sess, err := d.Store.GetWalletSession(ctx, customerID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sess.Wallet != strings.ToLower(wallet)) {
		return avata.AccessToken{}, signInRequired(customerID, display,
			"this needs the customer's wallet sign-in with wallet "+display+" (wallet-session:start, then :complete)")
	}
	if err != nil {
		return avata.AccessToken{}, storeError(err, "wallet_session")
	}
	if !sess.ExpireTime.IsZero() && !d.now().Before(sess.ExpireTime) {
		return avata.AccessToken{}, sessionExpired(customerID, display, sess.ExpireTime)
	}
	if len(sess.TokenCiphertext) == 0 {
		return avata.AccessToken{}, signInRequired(customerID, display,
			"the customer's wallet sign-in with "+display+" was started but not completed (wallet-session:complete)")
	}
	tok, err := d.WalletTokens.Open(sess.TokenCiphertext, walletSessionAD(customerID, sess.Wallet))
	if err != nil {
		// Sealed under another key (a restart without a configured key, or a key change): the
		// token is lost to us, exactly as if it had expired.
		if errors.Is(err, tokenseal.ErrOpen) {
			d.logger().WarnContext(ctx, "wallet session token cannot be opened with the current key; the customer must sign in again",
				"customer_id", customerID)
			return avata.AccessToken{}, sessionExpired(customerID, display, d.now())
		}
		return avata.AccessToken{}, err
	}
	return avata.AccessToken{Wallet: display, ChainID: sess.ChainID, Token: string(tok)}, nil
}

// CustomerWallet is the customer's Avata access token for wallet from the stored wallet session,
// or WALLET_SIGN_IN_REQUIRED / WALLET_SESSION_EXPIRED: what the partner-call reconciler signs a
// non-custodial policy's calls with.
func (d Deps) CustomerWallet(ctx context.Context, customerID, wallet string) (avata.Wallet, error) {
	return d.customerToken(ctx, customerID, wallet)
}

// walletCallFailed records that Avata refused a customer's token (it expired early or was
// revoked), so the session reads as expired, and returns err unchanged.
func (d Deps) walletCallFailed(ctx context.Context, customerID string, w avata.Wallet, err error) error {
	if _, customer := w.(avata.AccessToken); !customer || err == nil ||
		apierror.ReasonOf(err) != insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED.String() {
		return err
	}
	now := d.now()
	if terr := d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return d.Lifecycle.ExpireWalletSession(ctx, tx, customerID, now)
	}); terr != nil && !errors.Is(terr, store.ErrNotFound) {
		d.logger().WarnContext(ctx, "could not mark a refused wallet session expired", "customer_id", customerID, "error", terr)
	}
	return sessionExpired(customerID, w.Address(), now)
}

// policyWallet is the wallet Avata's wallet-scoped calls about p act for: our merchant wallet for
// policies bought to it (custodial) and digital-asset cover, else the customer's own wallet
// through the customer's wallet session.
func (d Deps) policyWallet(ctx context.Context, p domain.Policy) (avata.Wallet, error) {
	if p.Avata.OwnerWallet == "" {
		w := d.Avata.MerchantWallet()
		if w == nil {
			return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED,
				"no Avata merchant wallet is configured (avata-merchant-wallet-key)", "partner", avata.PartnerName)
		}
		return w, nil
	}
	return d.customerToken(ctx, p.CustomerID, p.Avata.OwnerWallet)
}
