package metrics

import "github.com/prometheus/client_golang/prometheus"

// Refusals counts calls the gateway refused to protect itself: over a rate limit (api_key,
// partner_route) or over the upload memory bound (upload_memory).
type Refusals struct{ c *prometheus.CounterVec }

// NewRefusals registers covergate_requests_refused_total. Call it once per Metrics.
func (m *Metrics) NewRefusals() *Refusals {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "covergate_requests_refused_total",
		Help: "Calls refused by a protective limit, by limit: api_key and partner_route (rate limits, 429), upload_memory (503).",
	}, []string{"limit"})
	m.registry.MustRegister(c)
	for _, l := range []string{"api_key", "partner_route", "upload_memory"} {
		c.WithLabelValues(l)
	}
	return &Refusals{c: c}
}

// Inc counts one refusal.
func (r *Refusals) Inc(limit string) {
	if r != nil {
		r.c.WithLabelValues(limit).Inc()
	}
}
