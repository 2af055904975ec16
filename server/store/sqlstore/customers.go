package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const customerCols = `id, pseudonym_id, status, salutation, first_name, last_name, email, phone,
	date_of_birth, address1, address2, city, region, country, postal_code,
	street, house_number, house_number_suffix, country_code, identity_status, identity_verification_id, etvas_user_id, avata_wallet,
	kyc_status, kyc_provider, version, create_time, update_time, erase_time`

func scanCustomer(r Rows) (domain.Customer, error) {
	var c domain.Customer
	p := &c.Profile
	err := r.Scan(&c.ID, &c.PseudonymID, &c.Status, &p.Salutation, &p.FirstName, &p.LastName, &p.Email, &p.Phone,
		&p.DateOfBirth, &p.Address1, &p.Address2, &p.City, &p.Region, &p.Country, &p.PostalCode,
		&p.Street, &p.HouseNumber, &p.HouseNumberSuffix, &p.CountryCode, &c.IdentityVerification.Status, &c.IdentityVerification.VerificationID,
		strDest{&c.EtvasUserID}, strDest{&c.AvataWallet},
		&c.KYCStatus, &c.KYCProvider, &c.Version, timeDest{&c.CreateTime}, timeDest{&c.UpdateTime}, timeDest{&c.EraseTime})
	return c, err
}

// customerArgs lists the writable columns in customerCols order after id.
func (s *Queries) customerArgs(c domain.Customer) []any {
	p := c.Profile
	return []any{c.PseudonymID, string(c.Status), p.Salutation, p.FirstName, p.LastName, p.Email, p.Phone,
		p.DateOfBirth, p.Address1, p.Address2, p.City, p.Region, p.Country, p.PostalCode,
		p.Street, p.HouseNumber, p.HouseNumberSuffix, p.CountryCode,
		c.IdentityVerification.Status, c.IdentityVerification.VerificationID,
		nstr(c.EtvasUserID), nstr(strings.ToLower(c.AvataWallet)),
		c.KYCStatus, c.KYCProvider, c.Version, s.ts(c.CreateTime), s.ts(c.UpdateTime), s.nts(c.EraseTime)}
}

// loadContexts fills EtvasContextIDs for the given customers in one query.
func (s *Queries) loadContexts(ctx context.Context, cs []domain.Customer) error {
	if len(cs) == 0 {
		return nil
	}
	var f filter
	idx := make(map[string]int, len(cs))
	ph := make([]string, len(cs))
	for i, c := range cs {
		idx[c.ID] = i
		ph[i] = f.param(c.ID)
	}
	rows, err := s.q.Query(ctx, `SELECT customer_id, context_id FROM customer_etvas_contexts
		WHERE customer_id IN (`+strings.Join(ph, ",")+`) ORDER BY customer_id, create_time, context_id`, f.args...)
	if err != nil {
		return fmt.Errorf("store: load etvas contexts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid, ctxID string
		if err := rows.Scan(&cid, &ctxID); err != nil {
			return fmt.Errorf("store: load etvas contexts: %w", err)
		}
		i := idx[cid]
		cs[i].EtvasContextIDs = append(cs[i].EtvasContextIDs, ctxID)
	}
	return rows.Err()
}

func (s *Queries) getCustomerWhere(ctx context.Context, what, cond string, arg any) (domain.Customer, error) {
	c, err := getOne(ctx, s, what, scanCustomer, `SELECT `+customerCols+` FROM customers WHERE `+cond, arg)
	if err != nil {
		return c, err
	}
	cs := []domain.Customer{c}
	if err := s.loadContexts(ctx, cs); err != nil {
		return domain.Customer{}, err
	}
	return cs[0], nil
}

// GetCustomer implements store.CustomerReader.
func (s *Queries) GetCustomer(ctx context.Context, id string) (domain.Customer, error) {
	return s.getCustomerWhere(ctx, "get customer "+id, "id = $1", id)
}

// FindCustomerByEtvasUserID implements store.CustomerReader.
func (s *Queries) FindCustomerByEtvasUserID(ctx context.Context, etvasUserID string) (domain.Customer, error) {
	return s.getCustomerWhere(ctx, "find customer by etvas user id", "etvas_user_id = $1", etvasUserID)
}

// FindCustomerByEtvasContextID implements store.CustomerReader.
func (s *Queries) FindCustomerByEtvasContextID(ctx context.Context, contextID string) (domain.Customer, error) {
	return s.getCustomerWhere(ctx, "find customer by etvas context id",
		"id = (SELECT customer_id FROM customer_etvas_contexts WHERE context_id = $1)", contextID)
}

// FindCustomerByAvataWallet implements store.CustomerReader. Wallet addresses
// are compared case-insensitively (they are stored lower-case).
func (s *Queries) FindCustomerByAvataWallet(ctx context.Context, wallet string) (domain.Customer, error) {
	return s.getCustomerWhere(ctx, "find customer by avata wallet", "avata_wallet = $1", strings.ToLower(wallet))
}

// ListCustomers implements store.CustomerReader.
func (s *Queries) ListCustomers(ctx context.Context, page store.PageRequest) (store.Page[domain.Customer], error) {
	var f filter
	p, err := listPage(ctx, s, "customers", `SELECT `+customerCols+` FROM customers`, &f, page, scanCustomer,
		func(c domain.Customer) string { return c.ID })
	if err != nil {
		return p, err
	}
	return p, s.loadContexts(ctx, p.Items)
}

// CreateCustomer implements store.CustomerStore.
func (s *Queries) CreateCustomer(ctx context.Context, c domain.Customer) (domain.Customer, error) {
	if err := newID(&c.ID); err != nil {
		return c, err
	}
	if c.PseudonymID == "" {
		id, err := domain.NewPseudonymID()
		if err != nil {
			return c, err
		}
		c.PseudonymID = id
	}
	if c.Status == "" {
		c.Status = domain.CustomerActive
	}
	now := s.now()
	c.Version, c.CreateTime, c.UpdateTime = 1, now, now
	c.AvataWallet = strings.ToLower(c.AvataWallet)
	args := append([]any{c.ID}, s.customerArgs(c)...)
	_, err := s.q.Exec(ctx, `INSERT INTO customers (`+customerCols+`) VALUES
		(`+placeholders(29)+`)`, args...)
	if err != nil {
		return c, s.mapWriteErr("create customer", err)
	}
	for _, cid := range c.EtvasContextIDs {
		if err := s.AddEtvasContextID(ctx, c.ID, cid); err != nil {
			return c, err
		}
	}
	return c, s.linkCustomer(ctx, c)
}

// UpdateCustomer implements store.CustomerStore.
func (s *Queries) UpdateCustomer(ctx context.Context, c domain.Customer, expectedVersion int64) (domain.Customer, error) {
	c.Version = expectedVersion + 1
	c.UpdateTime = s.now()
	c.AvataWallet = strings.ToLower(c.AvataWallet)
	p := c.Profile
	n, err := s.q.Exec(ctx, `UPDATE customers SET status=$1, salutation=$2, first_name=$3, last_name=$4, email=$5,
		phone=$6, date_of_birth=$7, address1=$8, address2=$9, city=$10, region=$11, country=$12, postal_code=$13,
		identity_status=$14, identity_verification_id=$15, etvas_user_id=$16, avata_wallet=$17, kyc_status=$18,
		kyc_provider=$19, version=$20, update_time=$21, street=$24, house_number=$25, house_number_suffix=$26,
		country_code=$27
		WHERE id=$22 AND version=$23`,
		string(c.Status), p.Salutation, p.FirstName, p.LastName, p.Email, p.Phone, p.DateOfBirth, p.Address1,
		p.Address2, p.City, p.Region, p.Country, p.PostalCode, c.IdentityVerification.Status,
		c.IdentityVerification.VerificationID, nstr(c.EtvasUserID), nstr(c.AvataWallet), c.KYCStatus,
		c.KYCProvider, c.Version, s.ts(c.UpdateTime), c.ID, expectedVersion,
		p.Street, p.HouseNumber, p.HouseNumberSuffix, p.CountryCode)
	if err != nil {
		return c, s.mapWriteErr("update customer", err)
	}
	if n == 0 {
		return c, s.versionMiss(ctx, "customers", "update customer", c.ID, expectedVersion)
	}
	for _, cid := range c.EtvasContextIDs {
		if err := s.AddEtvasContextID(ctx, c.ID, cid); err != nil {
			return c, err
		}
	}
	stored, err := s.GetCustomer(ctx, c.ID)
	if err != nil {
		return c, err
	}
	if stored.Status == domain.CustomerErased {
		return stored, nil
	}
	return stored, s.linkCustomer(ctx, stored)
}

// versionMiss explains a conditional UPDATE that matched nothing: the row is
// either gone (ErrNotFound) or at another version (ErrConflict).
func (s *Queries) versionMiss(ctx context.Context, table, what, id string, expected int64) error {
	var v int64
	err := s.queryOne(ctx, func(r Rows) error { return r.Scan(&v) }, `SELECT version FROM `+table+` WHERE id = $1`, id)
	if errors.Is(err, errNoRows) {
		return fmt.Errorf("store: %s %s: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, id, err)
	}
	return fmt.Errorf("store: %s %s: stored version %d, expected %d: %w", what, id, v, expected, store.ErrConflict)
}

// ensureCustomer inserts c unless a row with the same unique key exists, then
// returns the stored row. The insert uses ON CONFLICT DO NOTHING so a race
// with another transaction never aborts ours.
func (s *Queries) ensureCustomer(ctx context.Context, c domain.Customer, col, key string) (domain.Customer, bool, error) {
	what := "ensure customer by " + col
	if key == "" {
		return c, false, fmt.Errorf("store: %s: empty key", what)
	}
	existing, err := s.getCustomerWhere(ctx, what, col+" = $1", key)
	if err == nil {
		return existing, false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return c, false, err
	}
	if err := newID(&c.ID); err != nil {
		return c, false, err
	}
	if c.PseudonymID == "" {
		if c.PseudonymID, err = domain.NewPseudonymID(); err != nil {
			return c, false, err
		}
	}
	if c.Status == "" {
		c.Status = domain.CustomerActive
	}
	now := s.now()
	c.Version, c.CreateTime, c.UpdateTime = 1, now, now
	c.AvataWallet = strings.ToLower(c.AvataWallet)
	args := append([]any{c.ID}, s.customerArgs(c)...)
	n, err := s.q.Exec(ctx, `INSERT INTO customers (`+customerCols+`) VALUES
		(`+placeholders(29)+`)
		ON CONFLICT (`+col+`) WHERE `+col+` IS NOT NULL DO NOTHING`, args...)
	if err != nil {
		return c, false, s.mapWriteErr(what, err)
	}
	if n == 0 { // lost a race: someone else created it first
		got, err := s.getCustomerWhere(ctx, what, col+" = $1", key)
		return got, false, err
	}
	for _, cid := range c.EtvasContextIDs {
		if err := s.AddEtvasContextID(ctx, c.ID, cid); err != nil {
			return c, false, err
		}
	}
	return c, true, s.linkCustomer(ctx, c)
}

// EnsureCustomerByEtvasUserID implements store.CustomerStore.
func (s *Queries) EnsureCustomerByEtvasUserID(ctx context.Context, c domain.Customer) (domain.Customer, bool, error) {
	return s.ensureCustomer(ctx, c, "etvas_user_id", c.EtvasUserID)
}

// EnsureCustomerByAvataWallet implements store.CustomerStore.
func (s *Queries) EnsureCustomerByAvataWallet(ctx context.Context, c domain.Customer) (domain.Customer, bool, error) {
	return s.ensureCustomer(ctx, c, "avata_wallet", strings.ToLower(c.AvataWallet))
}

// AddEtvasContextID implements store.CustomerStore.
func (s *Queries) AddEtvasContextID(ctx context.Context, customerID, contextID string) error {
	const what = "add etvas context id"
	if contextID == "" {
		return fmt.Errorf("store: %s: empty context id", what)
	}
	_, err := s.q.Exec(ctx, `INSERT INTO customer_etvas_contexts (context_id, customer_id, create_time)
		VALUES ($1, $2, $3) ON CONFLICT (context_id) DO NOTHING`, contextID, customerID, s.ts(s.now()))
	if err != nil {
		return s.mapWriteErr(what, err)
	}
	var owner string
	err = s.queryOne(ctx, func(r Rows) error { return r.Scan(&owner) },
		`SELECT customer_id FROM customer_etvas_contexts WHERE context_id = $1`, contextID)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if owner != customerID {
		return fmt.Errorf("store: %s: context belongs to another customer: %w", what, store.ErrConflict)
	}
	return s.link(ctx, refCustomer, customerID, []string{domain.RefEtvasContext + contextID})
}

// EraseCustomer implements store.CustomerStore. In the caller's transaction it
// clears every profile column (structured address included), the
// identity-verification reference, the Etvas user id, wallet and context links
// (personal identifiers at a partner), the claimant e-mail of the customer's
// claims, the Etvas user id and owner wallet copied onto policies, and deletes
// the customer's wallet session; it replaces with domain.Redacted the raw payload, headers and
// stored response of the customer's inbox deliveries, the data of their
// events, their quotes' requests and their publications' payloads (pending
// ones are failed, not sent), their jobs' payloads and their partner calls' requests (pending
// ones are failed/abandoned); and it deletes their idempotency records. ID,
// PseudonymID, policies and claims remain, so the business record survives
// under the pseudonym. First, records that name the customer without being
// filed under it (personal_refs: an event about the same Etvas user, a
// publication naming them, a custodial claim filed with their e-mail and the
// answers naming that claim) are scrubbed the same way (eraseNamed).
func (s *Queries) EraseCustomer(ctx context.Context, customerID string, now time.Time) (domain.Customer, error) {
	const what = "erase customer"
	before, err := s.GetCustomer(ctx, customerID)
	if err != nil {
		return domain.Customer{}, err
	}
	if now.IsZero() {
		now = s.now()
	}
	now = Trunc(now)
	// First the records that name the customer without being filed under it, while the
	// customer's identifiers are still known.
	if err := s.eraseNamed(ctx, before, now); err != nil {
		return domain.Customer{}, err
	}
	red := []byte(domain.Redacted)
	steps := []struct {
		name  string
		query string
		args  []any
	}{
		{"customer", `UPDATE customers SET status=$2, salutation='', first_name='', last_name='', email='', phone='',
			date_of_birth='', address1='', address2='', city='', region='', country='', postal_code='',
			street='', house_number='', house_number_suffix='', country_code='', identity_verification_id='', etvas_user_id=NULL, avata_wallet=NULL, version=version+1, update_time=$3,
			erase_time=COALESCE(erase_time, $3) WHERE id=$1`,
			[]any{customerID, string(domain.CustomerErased), s.ts(now)}},
		{"etvas contexts", `DELETE FROM customer_etvas_contexts WHERE customer_id=$1`, []any{customerID}},
		// Claim reasons and document file names are free text that claimants fill with
		// personal details; the claims themselves stay, under the pseudonymous customer.
		{"claims", `UPDATE claims SET claimant_email='', reason='', version=version+1, update_time=$2
			WHERE customer_id=$1 AND (claimant_email <> '' OR reason <> '')`, []any{customerID, s.ts(now)}},
		{"claim documents", `UPDATE claim_documents SET file_name=''
			WHERE file_name <> '' AND policy_id IN (SELECT id FROM policies WHERE customer_id=$1)`, []any{customerID}},
		// The wallet a policy was bought to is the customer's identifier at Avata, like the Etvas
		// user id.
		{"policies", `UPDATE policies SET etvas_user_id='', avata_owner_wallet='', version=version+1, update_time=$2
			WHERE customer_id=$1 AND (etvas_user_id <> '' OR avata_owner_wallet <> '')`, []any{customerID, s.ts(now)}},
		// The wallet session holds the customer's wallet and an access token for it.
		{"wallet sessions", `DELETE FROM wallet_sessions WHERE customer_id=$1`, []any{customerID}},
		{"inbox", `UPDATE inbox SET payload=$2, headers='{}', response=$2 WHERE customer_id=$1`, []any{customerID, red}},
		{"events", `UPDATE events SET data=$2 WHERE customer_id=$1`, []any{customerID, red}},
		{"quotes", `UPDATE quotes SET request=$2 WHERE customer_id=$1`, []any{customerID, red}},
		{"publications", `UPDATE publications SET payload=$2,
			status=CASE WHEN status='PENDING' THEN 'FAILED' ELSE status END,
			last_error=CASE WHEN status='PENDING' THEN 'canceled: customer erased' ELSE last_error END,
			lease_owner='', lease_expire_time=NULL, update_time=$3 WHERE customer_id=$1`,
			[]any{customerID, red, s.ts(now)}},
		{"idempotency", `DELETE FROM idempotency WHERE customer_id=$1`, []any{customerID}},
		// Pending work for an erased customer (fetching their profile) must not bring personal
		// data back: it is failed, and its payload redacted.
		{"jobs", `UPDATE jobs SET payload=$2, job_key='erased:' || id,
			status=CASE WHEN status='PENDING' THEN 'FAILED' ELSE status END,
			last_error=CASE WHEN status='PENDING' THEN 'canceled: customer erased' ELSE last_error END,
			lease_owner='', lease_expire_time=NULL, update_time=$3 WHERE customer_id=$1`,
			[]any{customerID, red, s.ts(now)}},
		// A partner call's request holds the holder's details until it settles; a pending one
		// is abandoned (its outcome is left to the partner's callbacks).
		{"partner calls", `UPDATE partner_calls SET request=$2,
			state=CASE WHEN state='PENDING' THEN 'FAILED' ELSE state END,
			last_error=CASE WHEN state='PENDING' THEN 'abandoned: customer erased' ELSE last_error END,
			version=version+1, update_time=$3 WHERE customer_id=$1`, []any{customerID, red, s.ts(now)}},
	}
	for _, st := range steps {
		if _, err := s.q.Exec(ctx, st.query, st.args...); err != nil {
			return domain.Customer{}, fmt.Errorf("store: %s %s: %s: %w", what, customerID, st.name, err)
		}
	}
	if s.st != nil {
		s.st.Erased = true
	}
	return s.GetCustomer(ctx, customerID)
}
