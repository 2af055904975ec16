package interceptor

import (
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
)

// validateRequest checks msg against its protovalidate rules and turns violations into a
// google.rpc.BadRequest, which both transports carry unchanged.
func validateRequest(v protovalidate.Validator, req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL,
			fmt.Sprintf("request of type %T is not a protobuf message", req))
	}
	err := v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		// A rule that fails to compile or evaluate is our bug, not the caller's.
		return apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL, "request validation failed to run")
	}
	violations := make([]apierror.FieldViolation, 0, len(verr.Violations))
	for _, viol := range verr.Violations {
		p := viol.Proto
		violations = append(violations, apierror.FieldViolation{
			Field:       protovalidate.FieldPathString(p.GetField()),
			Description: p.GetMessage(),
			Reason:      p.GetRuleId(),
		})
	}
	msgText := "invalid request"
	if len(violations) == 1 {
		msgText = "invalid request: " + describe(violations[0])
	} else {
		msgText = fmt.Sprintf("invalid request: %d invalid fields, first: %s", len(violations), describe(violations[0]))
	}
	return apierror.Invalid(msgText, violations)
}

func describe(v apierror.FieldViolation) string {
	if v.Field == "" {
		return v.Description
	}
	return v.Field + ": " + v.Description
}
