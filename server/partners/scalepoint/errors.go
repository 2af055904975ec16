package scalepoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// The typed errors below are the error bodies documented in the publish document (https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint). Each
// wraps the *partnerhttp.Error it came from, so errors.As finds either, and the API edge
// (apierror) gives the same gRPC status as for the plain *partnerhttp.Error.

// IncorrectPayloadError: 400 {"message":"Incorrect payload, missing [xxxxxxxx]","valid":false}.
type IncorrectPayloadError struct {
	Message string
	HTTP    *partnerhttp.Error
}

func (e *IncorrectPayloadError) Error() string {
	return fmt.Sprintf("scalepoint: %s: incorrect payload: %s", e.HTTP.Operation, e.Message)
}
func (e *IncorrectPayloadError) Unwrap() error { return e.HTTP }

// InsufficientScopeError: 403 {"error":"insufficient_scope","error_description":..,"scope":"events"}.
// Our token lacks Scope: a configuration problem (the client's registration or Config.Scopes).
type InsufficientScopeError struct {
	Scope       string
	Description string
	HTTP        *partnerhttp.Error
}

func (e *InsufficientScopeError) Error() string {
	return fmt.Sprintf("scalepoint: %s: token lacks scope %q", e.HTTP.Operation, e.Scope)
}
func (e *InsufficientScopeError) Unwrap() error { return e.HTTP }

// UnauthorizedError: 401 {"error":"unauthorized","error_description":"Full authentication is
// required to access this resource"}. Returned only after a fresh token was refused too.
type UnauthorizedError struct {
	Description string
	HTTP        *partnerhttp.Error
}

func (e *UnauthorizedError) Error() string {
	return fmt.Sprintf("scalepoint: %s: unauthorized: %s", e.HTTP.Operation, e.Description)
}
func (e *UnauthorizedError) Unwrap() error { return e.HTTP }

// BadRequestError: 400 Spring error body {"timestamp","status","error","exception","message","path"},
// e.g. "Missing request header 'Event-Type' for method parameter of type String".
type BadRequestError struct {
	Message   string
	Path      string
	Exception string
	HTTP      *partnerhttp.Error
}

func (e *BadRequestError) Error() string {
	return fmt.Sprintf("scalepoint: %s: bad request on %s: %s", e.HTTP.Operation, e.Path, e.Message)
}
func (e *BadRequestError) Unwrap() error { return e.HTTP }

// errorBody is the union of the documented error bodies.
type errorBody struct {
	Message          string `json:"message"`
	Valid            *bool  `json:"valid"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Scope            string `json:"scope"`
	Exception        string `json:"exception"`
	Path             string `json:"path"`
	Status           int    `json:"status"`
}

// typedError turns a partner error into the documented typed error when its body matches
// one; anything else is returned unchanged.
func typedError(err error) error {
	var pe *partnerhttp.Error
	if !errors.As(err, &pe) || len(pe.Body) == 0 || pe.Operation == opToken {
		return err
	}
	var b errorBody
	if json.Unmarshal(pe.Body, &b) != nil {
		return err
	}
	switch {
	case pe.HTTPStatus == http.StatusBadRequest && (b.Valid != nil || strings.HasPrefix(b.Message, "Incorrect payload")):
		pe.PartnerMessage = partnerhttp.SanitizeMessage(b.Message)
		return &IncorrectPayloadError{Message: pe.PartnerMessage, HTTP: pe}
	case pe.HTTPStatus == http.StatusBadRequest && (b.Exception != "" || b.Path != ""):
		pe.PartnerMessage = partnerhttp.SanitizeMessage(b.Message)
		return &BadRequestError{Message: pe.PartnerMessage, Path: partnerhttp.SanitizeMessage(b.Path), Exception: partnerhttp.SanitizeMessage(b.Exception), HTTP: pe}
	case pe.HTTPStatus == http.StatusForbidden && b.Error == "insufficient_scope":
		pe.PartnerMessage = partnerhttp.SanitizeMessage(b.Error + ": " + b.Scope)
		return &InsufficientScopeError{Scope: partnerhttp.SanitizeMessage(b.Scope), Description: partnerhttp.SanitizeMessage(b.ErrorDescription), HTTP: pe}
	case pe.HTTPStatus == http.StatusUnauthorized:
		pe.PartnerMessage = partnerhttp.SanitizeMessage(b.ErrorDescription)
		return &UnauthorizedError{Description: pe.PartnerMessage, HTTP: pe}
	}
	return err
}

// InvalidEventError reports a publish refused before anything was sent: the payload does
// not satisfy the EventApi contract. The API edge maps it to INVALID_ARGUMENT with field
// violations.
type InvalidEventError struct {
	Violations []FieldViolation
}

// FieldViolation names one bad field.
type FieldViolation struct{ Field, Description string }

func (e *InvalidEventError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + " " + v.Description
	}
	return "scalepoint: invalid event: " + strings.Join(parts, "; ")
}

func invalidEvent(probs []fieldProblem) error {
	e := &InvalidEventError{}
	for _, p := range probs {
		e.Violations = append(e.Violations, FieldViolation{Field: p.field, Description: p.desc})
	}
	return e
}
