// Package contract checks that the API contract (proto/) says what the server enforces. It has
// no production code: its tests walk the generated descriptors of every service, so a field
// added without the matching google.api.field_behavior fails `go test` instead of reaching the
// OpenAPI document and the generated clients wrong.
package contract
