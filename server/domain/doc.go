// Package domain holds Covergate's business types and rules: identifiers, money
// as exact decimals, the policy and claim state machines, and the records the
// store keeps (inbox deliveries, the normalized event log, outbound
// publications, idempotency records). It knows nothing about protobuf or SQL so
// that the API layer and the store can both depend on it.
package domain
