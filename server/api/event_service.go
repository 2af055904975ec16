package api

import (
	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// EventService serves the event log (events.go) and the publications outbox (publications.go).
type EventService struct {
	insurancev1.UnimplementedEventServiceServer
	d Deps
}

func newEventService(d Deps) *EventService { return &EventService{d: d} }
