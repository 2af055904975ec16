// Package scalepoint is the typed client for Scalepoint's EventApi: OAuth2 client
// credentials (client_secret or private_key_jwt), publishing events and receiving them by
// long polling.
//
// The wire contract follows Scalepoint's Event API documents
// (https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint and
// https://dev.scalepoint.com/recieve-events-using-long-polling) and what Scalepoint's public
// client libraries add (private_key_jwt, scopes):
//
//	POST {base}/api/events/v1/{country}/external/{tenant}/send     (publish, 201 {"_id":N}; any 2xx = published)
//	GET  {base}/api/events/v1/{country}/external/{tenant}/receive  (long poll, ?lastEventId=)
//	POST {token URL}                                             (client_credentials grant)
//
// Every failure is a *partnerhttp.Error (for gRPC mapping); the four error bodies the
// document describes are additionally available as typed errors (IncorrectPayloadError,
// InsufficientScopeError, UnauthorizedError, BadRequestError) through errors.As.
package scalepoint
