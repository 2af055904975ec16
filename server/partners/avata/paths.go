package avata

import (
	"errors"
	"fmt"
	"strings"
)

// The Avata API reference (version 0.12.0) documents request and response
// bodies but no URL paths, HTTP methods or api-key header name. Everything in
// this file is therefore OUR ASSUMPTION, agreed with the lead (issue 4) and kept
// in this one place: when Avata confirms the real routes, only this file (or
// Config.Paths) changes. The sandbox (server/sandbox/avata) reads the
// reference on its own and can serve both tables below, so the adapter is
// tested against each.
//
// All paths are relative to Config.BaseURL. Every call carries the api key
// header and X-Brand-Id (when configured); rows marked "wallet JWT" also carry
// "Authorization: Bearer <token>" from the nonce sign-in.
//
// DefaultPaths ("verb" reading: every documented call has a JSON body, so POST):
//
//	operation                      method path                         auth
//	NFT proposal                   POST   /v1/nft/proposal             api key
//	NFT confirm                    POST   /v1/nft/confirm              api key
//	booking proposal               POST   /v1/booking/proposal         api key
//	booking confirm                POST   /v1/booking/confirm          api key
//	digital-asset proposal         POST   /v1/digital-asset/proposal   api key
//	digital-asset confirm          POST   /v1/digital-asset/confirm    api key
//	activate policy/cancel booking POST   /v1/policies/activate        api key
//	policy request status          POST   /v1/policies/request-status  api key
//	policy details                 POST   /v1/policies/details         api key
//	policies for wallet            POST   /v1/policies/wallet          wallet JWT
//	nonce                          GET    /v1/auth/nonce?publicKey=&chainId=  api key
//	sign in                        POST   /v1/auth/token               api key
//	claim document upload          POST   /v1/claims/upload (multipart) wallet JWT
//	claim create                   POST   /v1/claims                   wallet JWT
//	claim status                   POST   /v1/claims/status            wallet JWT
//	KYC                            POST   /v1/kyc                      api key
//
// RESTPaths ("rest" reading) moves proposals under /v1/proposals, makes the
// reads GETs whose documented body fields travel as query parameters
// (request status, details, wallet policies, claim status), activation a PUT
// and sign-in /v1/auth/login. A GET route sends its body fields as query
// parameters (see Client.call).
//
// The other points the reference is silent on, and the adapter's answer to
// each (the sandbox offers every reading; readings_test.go runs against all):
//   - api-key header: Config.APIKeyHeader (default x-api-key, the common
//     convention); under "Authorization" a wallet call's Bearer JWT wins.
//   - claim uuid in the create / status answers: not required (the examples
//     have none); Claim.UUID is then "" and the uuid comes from claim-update
//     callbacks.
//   - duplicate claim: 409, 400 "claim exists", 200 {"message": "claim
//     exists"} are all errors IsClaimExists recognises; a 200 with the
//     existing claim is returned as a success.
//   - money in policy details: strings (as documented) or numbers, null for
//     unset (PurchaseData.UnmarshalJSON).
//   - success status: any 2xx. Activation answer: empty, {id,message} or any
//     JSON object.
//   - error bodies: {"message","code"} gives ErrorInfo partner_code; any
//     other body still maps by HTTP status, with "message" as partner message.
const (
	PathNFTProposal          = "/v1/nft/proposal"
	PathNFTConfirm           = "/v1/nft/confirm"
	PathBookingProposal      = "/v1/booking/proposal"
	PathBookingConfirm       = "/v1/booking/confirm"
	PathDigitalAssetProposal = "/v1/digital-asset/proposal"
	PathDigitalAssetConfirm  = "/v1/digital-asset/confirm"
	PathPolicyActivate       = "/v1/policies/activate"
	PathPolicyRequestStatus  = "/v1/policies/request-status"
	PathPolicyDetails        = "/v1/policies/details"
	PathPoliciesForWallet    = "/v1/policies/wallet"
	PathAuthNonce            = "/v1/auth/nonce"
	PathAuthToken            = "/v1/auth/token"
	PathClaimUpload          = "/v1/claims/upload"
	PathClaimCreate          = "/v1/claims"
	PathClaimStatus          = "/v1/claims/status"
	PathKYC                  = "/v1/kyc"
)

// Route is the method and path of one operation.
type Route struct {
	Method string
	Path   string
}

// Paths is the route table; a zero Route takes DefaultPaths' route.
type Paths struct {
	NFTProposal, NFTConfirm                   Route
	BookingProposal, BookingConfirm           Route
	DigitalAssetProposal, DigitalAssetConfirm Route
	PolicyActivate, PolicyRequestStatus       Route
	PolicyDetails, PoliciesForWallet          Route
	AuthNonce, AuthToken                      Route
	ClaimUpload, ClaimCreate, ClaimStatus     Route
	KYC                                       Route
}

// DefaultPaths is the "verb" table above.
func DefaultPaths() Paths {
	post := func(p string) Route { return Route{Method: "POST", Path: p} }
	return Paths{
		NFTProposal: post(PathNFTProposal), NFTConfirm: post(PathNFTConfirm),
		BookingProposal: post(PathBookingProposal), BookingConfirm: post(PathBookingConfirm),
		DigitalAssetProposal: post(PathDigitalAssetProposal), DigitalAssetConfirm: post(PathDigitalAssetConfirm),
		PolicyActivate: post(PathPolicyActivate), PolicyRequestStatus: post(PathPolicyRequestStatus),
		PolicyDetails: post(PathPolicyDetails), PoliciesForWallet: post(PathPoliciesForWallet),
		AuthNonce: Route{Method: "GET", Path: PathAuthNonce}, AuthToken: post(PathAuthToken),
		ClaimUpload: post(PathClaimUpload), ClaimCreate: post(PathClaimCreate), ClaimStatus: post(PathClaimStatus),
		KYC: post(PathKYC),
	}
}

// RESTPaths is the "rest" reading.
func RESTPaths() Paths {
	post := func(p string) Route { return Route{Method: "POST", Path: p} }
	get := func(p string) Route { return Route{Method: "GET", Path: p} }
	return Paths{
		NFTProposal: post("/v1/proposals/nft"), NFTConfirm: post("/v1/proposals/nft/confirm"),
		BookingProposal: post("/v1/proposals/booking"), BookingConfirm: post("/v1/proposals/booking/confirm"),
		DigitalAssetProposal: post("/v1/proposals/digital-asset"), DigitalAssetConfirm: post("/v1/proposals/digital-asset/confirm"),
		PolicyActivate: Route{Method: "PUT", Path: "/v1/policies/activate"}, PolicyRequestStatus: get("/v1/policies/request-status"),
		PolicyDetails: get("/v1/policies"), PoliciesForWallet: get("/v1/policies/wallet"),
		AuthNonce: get(PathAuthNonce), AuthToken: post("/v1/auth/login"),
		ClaimUpload: post("/v1/claims/documents"), ClaimCreate: post(PathClaimCreate), ClaimStatus: get("/v1/claims/status"),
		KYC: post(PathKYC),
	}
}

// PathsNamed returns a named table: "verb" (or "") or "rest".
func PathsNamed(name string) (Paths, error) {
	switch name {
	case "", "verb":
		return DefaultPaths(), nil
	case "rest":
		return RESTPaths(), nil
	}
	return Paths{}, fmt.Errorf("avata: unknown path table %q (verb or rest)", name)
}

// withDefaults fills every zero route from DefaultPaths and checks the rest.
func (p Paths) withDefaults() (Paths, error) {
	d := DefaultPaths()
	pairs := []struct{ got, def *Route }{
		{&p.NFTProposal, &d.NFTProposal}, {&p.NFTConfirm, &d.NFTConfirm},
		{&p.BookingProposal, &d.BookingProposal}, {&p.BookingConfirm, &d.BookingConfirm},
		{&p.DigitalAssetProposal, &d.DigitalAssetProposal}, {&p.DigitalAssetConfirm, &d.DigitalAssetConfirm},
		{&p.PolicyActivate, &d.PolicyActivate}, {&p.PolicyRequestStatus, &d.PolicyRequestStatus},
		{&p.PolicyDetails, &d.PolicyDetails}, {&p.PoliciesForWallet, &d.PoliciesForWallet},
		{&p.AuthNonce, &d.AuthNonce}, {&p.AuthToken, &d.AuthToken},
		{&p.ClaimUpload, &d.ClaimUpload}, {&p.ClaimCreate, &d.ClaimCreate}, {&p.ClaimStatus, &d.ClaimStatus},
		{&p.KYC, &d.KYC},
	}
	for _, r := range pairs {
		if *r.got == (Route{}) {
			*r.got = *r.def
			continue
		}
		switch r.got.Method {
		case "GET", "POST", "PUT", "PATCH":
		default:
			return Paths{}, fmt.Errorf("avata: config: route %s: method must be GET, POST, PUT or PATCH", r.got.Path)
		}
		if !strings.HasPrefix(r.got.Path, "/") || strings.ContainsAny(r.got.Path, "?#") {
			return Paths{}, fmt.Errorf("avata: config: route path %q must start with / and have no query", r.got.Path)
		}
	}
	// The nonce is documented as a call with query parameters; calls that
	// change state (and the upload form) carry bodies, never GETs.
	if p.AuthNonce.Method != "GET" {
		return Paths{}, errors.New("avata: config: the nonce route must be GET")
	}
	for _, w := range []Route{p.NFTConfirm, p.BookingConfirm, p.DigitalAssetConfirm, p.PolicyActivate, p.AuthToken, p.ClaimUpload, p.ClaimCreate, p.KYC} {
		if w.Method == "GET" {
			return Paths{}, fmt.Errorf("avata: config: route %s changes state and cannot be GET", w.Path)
		}
	}
	return p, nil
}

// Header names. The api-key header name is an assumption too (the docs only
// name an "api_key" security scheme); Config.APIKeyHeader can override it.
const (
	DefaultAPIKeyHeader     = "x-api-key"
	HeaderBrandID           = "X-Brand-Id"
	CallbackSignatureHeader = "X-Avata-Signature"
)

// Multipart field names of the claim document upload.
const (
	FormFieldPolicyUUID = "policyUuid"
	FormFieldPublicKey  = "publicKey"
	FormFieldFiles      = "files"
)

// DefaultPortalURL is the base of the merchant-claim page link
// ({portal}/merchant-claim/{policyUuid}/{signature}); this one is documented.
const DefaultPortalURL = "https://portal.avata.gg"
