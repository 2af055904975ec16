package etvasrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/etvas"
)

// The partner-to-domain translation of Etvas data, in one place.

// InvalidFieldError is an Etvas event field we cannot accept; the API maps it to
// INVALID_ARGUMENT with a field violation.
type InvalidFieldError struct {
	Field, Description, Reason, Message string
}

func (e *InvalidFieldError) Error() string { return e.Message }

// Target is the policy status an Etvas event kind asks for.
func Target(kind etvas.EventKind) domain.PolicyStatus {
	switch kind {
	case etvas.EventCanceled:
		return domain.PolicyCanceled
	case etvas.EventSuspended:
		return domain.PolicySuspended
	}
	return domain.PolicyActive // purchased, resumed
}

// PortalPrice reads data.product.price from the raw portal body as an exact decimal (the
// decoded request holds it as a float) in currency, held to the API's Money bounds
// (domain.CheckAmountBounds): a `1e300` price is refused, not stored as a 301-digit premium. No
// price → zero Money.
func PortalPrice(raw []byte, currency string) (domain.Money, error) {
	var body struct {
		Data struct {
			Product struct {
				Price json.RawMessage `json:"price"`
			} `json:"product"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return domain.Money{}, &InvalidFieldError{Field: "data.product.price", Reason: "json", Description: "the body must be JSON",
			Message: "the body is not valid JSON"}
	}
	price := strings.TrimSpace(string(body.Data.Product.Price))
	if price == "" || price == "null" {
		return domain.Money{}, nil
	}
	amount, err := domain.DecimalFromFloatLiteral(json.Number(strings.Trim(price, `"`)))
	if err == nil && strings.HasPrefix(amount, "-") {
		err = errors.New("negative")
	}
	if err == nil {
		err = domain.CheckAmountBounds(amount)
	}
	if err != nil {
		return domain.Money{}, &InvalidFieldError{
			Field: "data.product.price", Reason: "decimal",
			Description: fmt.Sprintf("must be a non-negative decimal number with at most %d integer digits and %d decimal places",
				domain.MaxIntegerDigits, domain.MaxDecimalPlaces),
			Message: "data.product.price is not a valid price",
		}
	}
	return domain.Money{Amount: amount, Currency: currency}, nil
}

// Billing maps Etvas's priceType/priceInterval to our billing terms; unknown values are kept
// in lower case.
func Billing(priceType, interval string) domain.Billing {
	types := map[string]string{"SUBSCRIPTION": "recurring", "ONE_TIME": "one-time", "ONETIME": "one-time"}
	intervals := map[string]string{
		"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "QUARTERLY": "quarter", "YEARLY": "year", "ANNUALLY": "year",
	}
	pick := func(m map[string]string, v string) string {
		if mapped, ok := m[strings.ToUpper(strings.TrimSpace(v))]; ok {
			return mapped
		}
		return strings.ToLower(strings.TrimSpace(v))
	}
	return domain.Billing{PriceType: pick(types, priceType), PriceInterval: pick(intervals, interval)}
}

// Profile is the customer profile of an Etvas App purchase (GET /user/profile).
func Profile(p etvas.Profile) domain.Profile {
	return domain.Profile{
		FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: p.PhoneNumber,
		Address1: p.Address1, Address2: p.Address2, City: p.City, Region: p.RegionState,
		Country: p.Country, PostalCode: p.PostalCode,
	}
}
