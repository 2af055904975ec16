// Package scalepoint is the typed client for Scalepoint's EventApi: OAuth2 client
// credentials (client_secret or private_key_jwt), publishing events and receiving them by
// long polling.
//
// The wire contract follows /shared/partners/scalepoint-eventapi.txt and the Scalepoint
// section of PARTNER-NOTES.md:
//
//	POST {base}/api/events/v1/{country}/external/{tenant}/send     (publish, 201 {"_id":N})
//	GET  {base}/api/events/v1/{country}/external/{tenant}/receive  (long poll, ?lastEventId=)
//	POST {token URL}                                             (client_credentials grant)
//
// Every failure is a *partnerhttp.Error (for gRPC mapping); the four error bodies the
// document describes are additionally available as typed errors (IncorrectPayloadError,
// InsufficientScopeError, UnauthorizedError, BadRequestError) through errors.As.
package scalepoint
