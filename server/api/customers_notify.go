package api

import (
	"context"
	"slices"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/partners/etvas"
)

// NotifyCustomer sends a notification to the customer through Etvas (POST /user/notify) in one
// of the customer's Etvas purchase contexts: the one named, else the most recent. It is not
// retried on a timeout (a retry could notify twice); callers that retry send an Idempotency-Key.
func (s *CustomerService) NotifyCustomer(ctx context.Context, req *insurancev1.NotifyCustomerRequest) (*insurancev1.NotifyCustomerResponse, error) {
	c, err := activeCustomer(ctx, s.d.Store, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	contextID := req.GetContextId()
	switch {
	case len(c.EtvasContextIDs) == 0:
		return nil, invalidState("customer "+c.ID+" has no Etvas purchase context to notify in", "resource", "customer")
	case contextID == "":
		contextID = c.EtvasContextIDs[len(c.EtvasContextIDs)-1] // linked in time order
	case !slices.Contains(c.EtvasContextIDs, contextID):
		return nil, invalidField("context_id", "context_id.customer", "context_id is not one of the customer's Etvas purchase contexts")
	}
	if err := s.d.Etvas.Notify(ctx, contextID, etvas.Notification{
		Locale: req.GetLocale(), Subject: req.GetSubject(), Message: req.GetMessage(),
	}); err != nil {
		return nil, err
	}
	return &insurancev1.NotifyCustomerResponse{ContextId: contextID}, nil
}
