package domain

import "time"

// JobStatus is the state of a background job.
type JobStatus string

// Job statuses.
const (
	// JobPending: waiting for its next attempt (or being attempted under a lease).
	JobPending JobStatus = "PENDING"
	// JobDone: its work is done and its effect committed.
	JobDone JobStatus = "DONE"
	// JobFailed: gave up (permanent error or attempts exhausted); visible to operators and
	// re-queueable.
	JobFailed JobStatus = "FAILED"
)

// Job is durable background work that must happen after a transaction committed, such as
// fetching a customer's profile from a partner after the purchase was acknowledged. It is
// written in the transaction that makes it necessary, unique per (Kind, Key), so recording the
// same need twice never runs the work twice.
type Job struct {
	ID   string
	Kind string // what to do, e.g. "etvas.fetch_profile"
	Key  string // what it is about, unique within Kind (e.g. the Etvas context id)
	// Payload is the job's input (JSON). It holds references, never personal data.
	Payload []byte
	// CustomerID, when set, is the customer the job concerns: erasure cancels its pending jobs.
	CustomerID      string
	Status          JobStatus
	Attempts        int32
	NextAttemptTime time.Time
	LastError       string
	LeaseOwner      string
	LeaseExpireTime time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
	DoneTime        time.Time
}
