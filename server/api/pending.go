package api

import (
	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
)

// The services below answer UNIMPLEMENTED (reason NOT_IMPLEMENTED, naming the method) for the
// RPCs whose behaviour is not built yet. They exist so that the whole contract is served, routed,
// authenticated and validated from day one; each is replaced by its real implementation.
type (
	pendingQuotes struct {
		insurancev1.UnimplementedQuoteServiceServer
	}
	pendingPolicies struct {
		insurancev1.UnimplementedPolicyServiceServer
	}
	pendingClaims struct {
		insurancev1.UnimplementedClaimServiceServer
	}
	pendingCustomers struct {
		insurancev1.UnimplementedCustomerServiceServer
	}
	pendingEvents struct {
		insurancev1.UnimplementedEventServiceServer
	}
	pendingEtvas struct {
		webhooksv1.UnimplementedEtvasWebhookServiceServer
	}
	pendingAvata struct {
		webhooksv1.UnimplementedAvataWebhookServiceServer
	}
	pendingScalepoint struct {
		webhooksv1.UnimplementedScalepointWebhookServiceServer
	}
)

// Pending returns services that implement nothing yet.
func Pending() Services {
	return Services{
		Quotes:     pendingQuotes{},
		Policies:   pendingPolicies{},
		Claims:     pendingClaims{},
		Customers:  pendingCustomers{},
		Events:     pendingEvents{},
		Etvas:      pendingEtvas{},
		Avata:      pendingAvata{},
		Scalepoint: pendingScalepoint{},
	}
}
