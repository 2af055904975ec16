// Package api implements the gRPC services of the contract. Each service lives in its own file;
// the wiring that builds them lives in server/app.
package api

import (
	"google.golang.org/grpc"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
)

// Services are the implementations registered on the gRPC server.
type Services struct {
	Quotes     insurancev1.QuoteServiceServer
	Policies   insurancev1.PolicyServiceServer
	Claims     insurancev1.ClaimServiceServer
	Customers  insurancev1.CustomerServiceServer
	Events     insurancev1.EventServiceServer
	Etvas      webhooksv1.EtvasWebhookServiceServer
	Avata      webhooksv1.AvataWebhookServiceServer
	Scalepoint webhooksv1.ScalepointWebhookServiceServer
}

// Register registers every service on s.
func (svc Services) Register(s grpc.ServiceRegistrar) {
	insurancev1.RegisterQuoteServiceServer(s, svc.Quotes)
	insurancev1.RegisterPolicyServiceServer(s, svc.Policies)
	insurancev1.RegisterClaimServiceServer(s, svc.Claims)
	insurancev1.RegisterCustomerServiceServer(s, svc.Customers)
	insurancev1.RegisterEventServiceServer(s, svc.Events)
	webhooksv1.RegisterEtvasWebhookServiceServer(s, svc.Etvas)
	webhooksv1.RegisterAvataWebhookServiceServer(s, svc.Avata)
	webhooksv1.RegisterScalepointWebhookServiceServer(s, svc.Scalepoint)
}
