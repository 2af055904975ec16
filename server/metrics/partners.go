package metrics

import (
	"strconv"
	"time"
)

// PartnerObserver records partner calls; it implements partnerhttp.Observer.
type PartnerObserver struct{ m *Metrics }

// Partners returns the observer to give the partner adapters.
func (m *Metrics) Partners() PartnerObserver { return PartnerObserver{m: m} }

// ObserveCall records one partner call (all its attempts).
func (o PartnerObserver) ObserveCall(partner, operation string, httpStatus int, outcome string, d time.Duration) {
	o.m.partnerCalls.WithLabelValues(partner, operation, outcome, strconv.Itoa(httpStatus)).Inc()
	o.m.partnerLatency.WithLabelValues(partner, operation).Observe(d.Seconds())
}

// BreakerStateChanged records a circuit breaker transition.
func (o PartnerObserver) BreakerStateChanged(partner, _, to string) {
	o.m.breakerState.WithLabelValues(partner).Set(breakerValue(to))
}

func breakerValue(state string) float64 {
	switch state {
	case "open":
		return 2
	case "half-open":
		return 1
	default:
		return 0
	}
}

func httpCode(code int) string { return strconv.Itoa(code) }
