package avata

// The Avata API reference (version 0.12.0) documents request and response
// bodies but no URL paths, HTTP methods or api-key header name. Everything in
// this file is therefore OUR ASSUMPTION, agreed with the lead (issue 4) and kept
// in this one place: when Avata confirms the real routes, only this file
// changes. The sandbox (server/sandbox/avata) serves exactly this table.
//
// All paths are relative to Config.BaseURL. Every call carries the api key
// header and X-Brand-Id (when configured); rows marked "wallet JWT" also carry
// "Authorization: Bearer <token>" from the nonce sign-in.
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
