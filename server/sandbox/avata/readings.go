package avata

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The Avata reference documents bodies but is silent on several things a
// client depends on. For each silent point the sandbox offers every plausible
// reading, chosen in Config.Readings and switchable at run time through
// /_sandbox/readings, so the adapter can be tested against all of them. The
// default of each is written down here with the reason.

// Readings selects one reading per silent point. The zero value of a field
// means its default.
type Readings struct {
	// Paths: the reference has no URL paths and no HTTP methods.
	//   "verb" (default): one POST per documented operation under a noun
	//          ("/v1/nft/proposal", "/v1/policies/details", ...), the nonce a
	//          GET with query parameters. Default because the documented read
	//          calls ("details", "request status", "claim status", "wallet
	//          policies") all have a JSON request body, which implies POST.
	//   "rest": resource paths; reads are GETs carrying the documented body
	//          fields as query parameters, activation a PUT.
	Paths string `json:"paths,omitempty"`
	// APIKeyHeader: the reference names an "api_key" security scheme only.
	//   "x-api-key" (default, the most common convention), "api_key" (the
	//   scheme's name used as the header name), "Authorization" (the raw key;
	//   wallet calls then carry "Bearer <wallet JWT>" in that header instead).
	APIKeyHeader string `json:"apiKeyHeader,omitempty"`
	// ClaimUUID: the create-claim and claim-status examples carry no claim
	// uuid; only claim-update callbacks do.
	//   "absent" (default: as documented), "present" (both answers add "uuid").
	ClaimUUID string `json:"claimUuid,omitempty"`
	// DuplicateClaim: what a second claim on the same policy answers.
	//   "409" (default: Conflict with a "claim exists" message; the usual
	//   answer for a uniqueness violation), "400" (Bad Request, same message),
	//   "200-message" (200 {"message":"Claim already exists"}),
	//   "200-claim" (200 with the existing claim, as a create answer).
	DuplicateClaim string `json:"duplicateClaim,omitempty"`
	// PolicyMoney: policy details carry totalValue, duration and
	// coveragePercentage as strings in the example while proposals use numbers.
	//   "string" (default: as documented), "number".
	PolicyMoney string `json:"policyMoney,omitempty"`
	// SuccessStatus: the status of a successful POST. The reference shows
	// examples without a status line. 200 (default) or 201 (what many
	// frameworks answer to a POST that creates something).
	SuccessStatus int `json:"successStatus,omitempty"`
	// ActivateAnswer: activation has a request example but no response.
	//   "confirmation" (default: {"id","message"} like the confirm calls),
	//   "no-content" (204, empty body), "policy" ({"policy":{...}} like details).
	ActivateAnswer string `json:"activateAnswer,omitempty"`
	// ErrorBody: error bodies are undocumented.
	//   "message-code" (default: {"message","code"}),
	//   "nest" ({"statusCode","message","error"}: no machine code at all).
	ErrorBody string `json:"errorBody,omitempty"`
}

// Reading values.
const (
	PathsVerb = "verb"
	PathsREST = "rest"

	HeaderXAPIKey       = "x-api-key"
	HeaderAPIKey        = "api_key"
	HeaderAuthorization = "Authorization"

	ClaimUUIDAbsent  = "absent"
	ClaimUUIDPresent = "present"

	DuplicateConflict   = "409"
	DuplicateBadRequest = "400"
	DuplicateOKMessage  = "200-message"
	DuplicateOKClaim    = "200-claim"

	MoneyString = "string"
	MoneyNumber = "number"

	ActivateConfirmation = "confirmation"
	ActivateNoContent    = "no-content"
	ActivatePolicy       = "policy"

	ErrorMessageCode = "message-code"
	ErrorNest        = "nest"
)

// DefaultReadings returns the default reading of every silent point.
func DefaultReadings() Readings {
	return Readings{
		Paths: PathsVerb, APIKeyHeader: HeaderXAPIKey, ClaimUUID: ClaimUUIDAbsent,
		DuplicateClaim: DuplicateConflict, PolicyMoney: MoneyString, SuccessStatus: http.StatusOK,
		ActivateAnswer: ActivateConfirmation, ErrorBody: ErrorMessageCode,
	}
}

// AllReadings lists, per field, every value the sandbox offers (for tests and
// the control endpoint's error message).
func AllReadings() map[string][]string {
	return map[string][]string{
		"paths":          {PathsVerb, PathsREST},
		"apiKeyHeader":   {HeaderXAPIKey, HeaderAPIKey, HeaderAuthorization},
		"claimUuid":      {ClaimUUIDAbsent, ClaimUUIDPresent},
		"duplicateClaim": {DuplicateConflict, DuplicateBadRequest, DuplicateOKMessage, DuplicateOKClaim},
		"policyMoney":    {MoneyString, MoneyNumber},
		"successStatus":  {"200", "201"},
		"activateAnswer": {ActivateConfirmation, ActivateNoContent, ActivatePolicy},
		"errorBody":      {ErrorMessageCode, ErrorNest},
	}
}

// merge returns r with every set field of o applied.
func (r Readings) merge(o Readings) Readings {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.Paths, o.Paths)
	set(&r.APIKeyHeader, o.APIKeyHeader)
	for _, h := range []string{HeaderXAPIKey, HeaderAPIKey, HeaderAuthorization} {
		if strings.EqualFold(r.APIKeyHeader, h) { // header names are case-insensitive
			r.APIKeyHeader = h
		}
	}
	set(&r.ClaimUUID, o.ClaimUUID)
	set(&r.DuplicateClaim, o.DuplicateClaim)
	set(&r.PolicyMoney, o.PolicyMoney)
	set(&r.ActivateAnswer, o.ActivateAnswer)
	set(&r.ErrorBody, o.ErrorBody)
	if o.SuccessStatus != 0 {
		r.SuccessStatus = o.SuccessStatus
	}
	return r
}

// Validate reports the first field holding a value the sandbox does not offer.
func (r Readings) Validate() error {
	check := func(field, v string) error {
		for _, ok := range AllReadings()[field] {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("reading %s: %q is not one of %s", field, v, strings.Join(AllReadings()[field], ", "))
	}
	return errors.Join(
		check("paths", r.Paths),
		check("apiKeyHeader", r.APIKeyHeader),
		check("claimUuid", r.ClaimUUID),
		check("duplicateClaim", r.DuplicateClaim),
		check("policyMoney", r.PolicyMoney),
		check("successStatus", fmt.Sprint(r.SuccessStatus)),
		check("activateAnswer", r.ActivateAnswer),
		check("errorBody", r.ErrorBody),
	)
}

// Operations of the reference, named as the sandbox names them.
const (
	opNFTProposal          = "nft-proposal"
	opNFTConfirm           = "nft-confirm"
	opBookingProposal      = "booking-proposal"
	opBookingConfirm       = "booking-confirm"
	opDigitalAssetProposal = "digital-asset-proposal"
	opDigitalAssetConfirm  = "digital-asset-confirm"
	opActivate             = "activate"
	opRequestStatus        = "policy-request-status"
	opPolicyDetails        = "policy-details"
	opWalletPolicies       = "wallet-policies"
	opNonce                = "auth-nonce"
	opSignIn               = "auth-token"
	opClaimUpload          = "claim-upload"
	opClaimCreate          = "claim-create"
	opClaimStatus          = "claim-status"
	opKYC                  = "kyc"
)

// Route is one operation's method and path under a reading.
type Route struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// verbRoutes is the "verb" reading: every call a POST with a JSON body, the
// nonce a GET with query parameters (the reference says it is "called with
// two query parameters").
var verbRoutes = map[string]Route{
	opNFTProposal:          {http.MethodPost, "/v1/nft/proposal"},
	opNFTConfirm:           {http.MethodPost, "/v1/nft/confirm"},
	opBookingProposal:      {http.MethodPost, "/v1/booking/proposal"},
	opBookingConfirm:       {http.MethodPost, "/v1/booking/confirm"},
	opDigitalAssetProposal: {http.MethodPost, "/v1/digital-asset/proposal"},
	opDigitalAssetConfirm:  {http.MethodPost, "/v1/digital-asset/confirm"},
	opActivate:             {http.MethodPost, "/v1/policies/activate"},
	opRequestStatus:        {http.MethodPost, "/v1/policies/request-status"},
	opPolicyDetails:        {http.MethodPost, "/v1/policies/details"},
	opWalletPolicies:       {http.MethodPost, "/v1/policies/wallet"},
	opNonce:                {http.MethodGet, "/v1/auth/nonce"},
	opSignIn:               {http.MethodPost, "/v1/auth/token"},
	opClaimUpload:          {http.MethodPost, "/v1/claims/upload"},
	opClaimCreate:          {http.MethodPost, "/v1/claims"},
	opClaimStatus:          {http.MethodPost, "/v1/claims/status"},
	opKYC:                  {http.MethodPost, "/v1/kyc"},
}

// restRoutes is the "rest" reading: proposals and policies as resources,
// reads as GETs whose documented body fields travel as query parameters.
var restRoutes = map[string]Route{
	opNFTProposal:          {http.MethodPost, "/v1/proposals/nft"},
	opNFTConfirm:           {http.MethodPost, "/v1/proposals/nft/confirm"},
	opBookingProposal:      {http.MethodPost, "/v1/proposals/booking"},
	opBookingConfirm:       {http.MethodPost, "/v1/proposals/booking/confirm"},
	opDigitalAssetProposal: {http.MethodPost, "/v1/proposals/digital-asset"},
	opDigitalAssetConfirm:  {http.MethodPost, "/v1/proposals/digital-asset/confirm"},
	opActivate:             {http.MethodPut, "/v1/policies/activate"},
	opRequestStatus:        {http.MethodGet, "/v1/policies/request-status"},
	opPolicyDetails:        {http.MethodGet, "/v1/policies"},
	opWalletPolicies:       {http.MethodGet, "/v1/policies/wallet"},
	opNonce:                {http.MethodGet, "/v1/auth/nonce"},
	opSignIn:               {http.MethodPost, "/v1/auth/login"},
	opClaimUpload:          {http.MethodPost, "/v1/claims/documents"},
	opClaimCreate:          {http.MethodPost, "/v1/claims"},
	opClaimStatus:          {http.MethodGet, "/v1/claims/status"},
	opKYC:                  {http.MethodPost, "/v1/kyc"},
}

// RoutesFor returns a copy of the route table of a paths reading.
func RoutesFor(paths string) map[string]Route {
	src := verbRoutes
	if paths == PathsREST {
		src = restRoutes
	}
	out := make(map[string]Route, len(src))
	for k, v := range src {
		out[k] = v
	}
	return out
}
