package domain

import (
	"fmt"

	"github.com/google/uuid"
)

// NewID returns a server-assigned UUIDv7. Version 7 ids start with a
// millisecond timestamp, so ordering rows by id approximates creation order and
// gives stable paging without a separate sort column.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("domain: new id: %w", err)
	}
	return id.String(), nil
}

// NewPseudonymID returns a random (v4) id for a customer's pseudonym. It is
// random rather than time-ordered so it leaks nothing about the customer.
func NewPseudonymID() (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("domain: new pseudonym id: %w", err)
	}
	return id.String(), nil
}

// ValidID reports whether s is a canonical lower-case UUID string, the only form
// the store ever writes.
func ValidID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}
