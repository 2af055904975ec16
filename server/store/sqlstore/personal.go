package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
)

// Record kinds of personal_refs (see the migration 00002_personal_refs).
const (
	refCustomer    = "customer"     // the identifiers a customer has had
	refInbox       = "inbox"        // what a partner delivery names
	refPublication = "publication"  // what a publication's payload names
	refClaim       = "claim"        // what a claim's e-mail and reason name
	refIdempotency = "idempotency"  // what a stored answer names; record id: principal + idemSep + key
	refQuote       = "quote"        // what a quote request names
	refPartnerCall = "partner_call" // what a partner call's request and subject name
)

// idemSep joins an idempotency record's principal and key into one record id. Keys are
// printable ASCII and principals never hold control characters, so it cannot be ambiguous.
const idemSep = "\x1f"

// link records that the record (kind, id) names refs. Only the digests are stored.
func (s *Queries) link(ctx context.Context, kind, id string, refs []string) error {
	refs = domain.Dedupe(refs)
	if len(refs) == 0 || id == "" {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO personal_refs (ref, record_kind, record_id) VALUES `)
	args := make([]any, 0, len(refs)+2)
	args = append(args, kind, id)
	for i, r := range refs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "($%d,$1,$2)", i+3)
		args = append(args, domain.RefDigest(r))
	}
	b.WriteString(` ON CONFLICT DO NOTHING`)
	return s.execLater(ctx, failed("link personal data of "+kind+" "+id), b.String(), args...)
}

// resolveCustomer returns the one customer whose identifiers include one of refs, or "" when
// none or more than one does.
func (s *Queries) resolveCustomer(ctx context.Context, refs []string) (string, error) {
	refs = domain.Dedupe(refs)
	if len(refs) == 0 {
		return "", nil
	}
	in, args := digestList(refs, 2)
	rows, err := s.q.Query(ctx, `SELECT DISTINCT record_id FROM personal_refs WHERE record_kind = $1 AND ref IN (`+in+`)`,
		append([]any{refCustomer}, args...)...)
	if err != nil {
		return "", fmt.Errorf("store: resolve customer: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() && len(ids) < 2 {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("store: resolve customer: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("store: resolve customer: %w", err)
	}
	if len(ids) != 1 {
		return "", nil
	}
	return ids[0], nil
}

// digestList renders "$n,$n+1,..." for the digests of refs, numbering from first.
func digestList(refs []string, first int) (string, []any) {
	var b strings.Builder
	args := make([]any, len(refs))
	for i, r := range refs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "$%d", first+i)
		args[i] = domain.RefDigest(r)
	}
	return b.String(), args
}

// linkCustomer records a customer's current identifiers, so that records written later (or
// earlier) that name the customer by any of them are found at erasure.
func (s *Queries) linkCustomer(ctx context.Context, c domain.Customer) error {
	return s.link(ctx, refCustomer, c.ID, domain.CustomerRefs(c))
}

// customerDigests are the digests of every identifier the customer has had: those recorded over
// time, the current ones, and the ids of its policies, claims and quotes (and their partner ids).
func (s *Queries) customerDigests(ctx context.Context, c domain.Customer) ([]string, error) {
	refs := domain.CustomerRefs(c)
	for _, q := range []string{
		`SELECT id FROM policies WHERE customer_id = $1`,
		`SELECT avata_policy_uuid FROM policies WHERE customer_id = $1 AND avata_policy_uuid IS NOT NULL`,
		`SELECT id FROM claims WHERE customer_id = $1`,
		`SELECT avata_claim_uuid FROM claims WHERE customer_id = $1 AND avata_claim_uuid IS NOT NULL`,
		`SELECT id FROM quotes WHERE customer_id = $1`,
	} {
		ids, err := s.strings(ctx, q, c.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			refs = append(refs, domain.RefID+strings.ToLower(id))
		}
	}
	digests := make([]string, 0, len(refs))
	for _, r := range domain.Dedupe(refs) {
		digests = append(digests, domain.RefDigest(r))
	}
	recorded, err := s.strings(ctx, `SELECT ref FROM personal_refs WHERE record_kind = $1 AND record_id = $2`, refCustomer, c.ID)
	if err != nil {
		return nil, err
	}
	return domain.Dedupe(append(digests, recorded...)), nil
}

func (s *Queries) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.q.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// eraseNamed scrubs every record that names the customer without being filed under it (and
// those filed under it that also carry refs), then forgets the customer's refs. It runs inside
// EraseCustomer, before the customer row is cleared.
func (s *Queries) eraseNamed(ctx context.Context, c domain.Customer, now time.Time) error {
	digests, err := s.customerDigests(ctx, c)
	if err != nil {
		return err
	}
	// Records naming the customer; a claim found that way (custodial: filed under nobody) also
	// makes the records naming that claim the customer's (its stored idempotent answer), so the
	// search widens once per round until it finds nothing new.
	byKind := map[string][]string{}
	seen := map[string]bool{}
	for round := 0; len(digests) > 0 && round < 4; round++ {
		found, err := s.recordsNaming(ctx, digests)
		if err != nil {
			return err
		}
		digests = nil
		for _, rec := range found {
			if seen[rec[0]+"/"+rec[1]] {
				continue
			}
			seen[rec[0]+"/"+rec[1]] = true
			byKind[rec[0]] = append(byKind[rec[0]], rec[1])
			if rec[0] == refClaim {
				digests = append(digests, domain.RefDigest(domain.RefID+strings.ToLower(rec[1])))
			}
		}
	}
	red := []byte(domain.Redacted)
	for kind, ids := range byKind {
		for _, id := range ids {
			var err error
			switch kind {
			case refInbox:
				_, err = s.q.Exec(ctx, `UPDATE inbox SET payload=$2, headers='{}', response=$2 WHERE id=$1`, id, red)
			case refPublication:
				_, err = s.q.Exec(ctx, `UPDATE publications SET payload=$2,
					status=CASE WHEN status='PENDING' THEN 'FAILED' ELSE status END,
					last_error=CASE WHEN status='PENDING' THEN 'canceled: customer erased' ELSE last_error END,
					lease_owner='', lease_expire_time=NULL, update_time=$3 WHERE id=$1`, id, red, s.ts(now))
			case refClaim:
				err = s.scrubClaim(ctx, id, now)
			case refQuote:
				_, err = s.q.Exec(ctx, `UPDATE quotes SET request=$2 WHERE id=$1`, id, red)
			case refPartnerCall:
				_, err = s.q.Exec(ctx, `UPDATE partner_calls SET request=$2,
					state=CASE WHEN state='PENDING' THEN 'FAILED' ELSE state END,
					last_error=CASE WHEN state='PENDING' THEN 'abandoned: customer erased' ELSE last_error END,
					version=version+1, update_time=$3 WHERE id=$1`, id, red, s.ts(now))
			case refIdempotency:
				principal, key, _ := strings.Cut(id, idemSep)
				_, err = s.q.Exec(ctx, `DELETE FROM idempotency WHERE principal=$1 AND idem_key=$2`, principal, key)
			default:
				err = fmt.Errorf("unknown record kind %q", kind)
			}
			if err != nil {
				return fmt.Errorf("store: erase: scrub %s %s: %w", kind, id, err)
			}
			// The scrubbed record names nobody any more.
			if _, err := s.q.Exec(ctx, `DELETE FROM personal_refs WHERE record_kind=$1 AND record_id=$2`, kind, id); err != nil {
				return fmt.Errorf("store: erase: forget refs of %s %s: %w", kind, id, err)
			}
		}
	}
	if _, err := s.q.Exec(ctx, `DELETE FROM personal_refs WHERE record_kind=$1 AND record_id=$2`, refCustomer, c.ID); err != nil {
		return fmt.Errorf("store: erase: forget the customer's identifiers: %w", err)
	}
	return nil
}

// scrubClaim clears a claim's free text and the file names of the documents filed with it
// (claimants name files after themselves); the claim itself stays.
func (s *Queries) scrubClaim(ctx context.Context, id string, now time.Time) error {
	c, err := s.GetClaim(ctx, id)
	if err != nil {
		return err
	}
	for _, key := range c.DocumentKeys {
		if _, err := s.q.Exec(ctx, `UPDATE claim_documents SET file_name='' WHERE policy_id=$1 AND partner_key=$2 AND file_name <> ''`,
			c.PolicyID, key); err != nil {
			return err
		}
	}
	_, err = s.q.Exec(ctx, `UPDATE claims SET claimant_email='', reason='', version=version+1, update_time=$2
		WHERE id=$1 AND (claimant_email <> '' OR reason <> '')`, id, s.ts(now))
	return err
}

// recordsNaming returns (kind, id) of every non-customer record sharing a digest, and forgets
// those refs.
func (s *Queries) recordsNaming(ctx context.Context, digests []string) ([][2]string, error) {
	var out [][2]string
	const batch = 500
	for start := 0; start < len(digests); start += batch {
		part := digests[start:min(start+batch, len(digests))]
		args := make([]any, 0, len(part)+1)
		args = append(args, refCustomer)
		var in strings.Builder
		for i, d := range part {
			if i > 0 {
				in.WriteByte(',')
			}
			fmt.Fprintf(&in, "$%d", i+2)
			args = append(args, d)
		}
		rows, err := s.q.Query(ctx, `SELECT DISTINCT record_kind, record_id FROM personal_refs
			WHERE record_kind <> $1 AND ref IN (`+in.String()+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: erase: find records naming the customer: %w", err)
		}
		for rows.Next() {
			var kind, id string
			if err := rows.Scan(&kind, &id); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, [2]string{kind, id})
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		if _, err := s.q.Exec(ctx, `DELETE FROM personal_refs WHERE ref IN (`+in.String()+`) AND record_kind <> $1`, args...); err != nil {
			return nil, fmt.Errorf("store: erase: forget refs: %w", err)
		}
	}
	return out, nil
}

// linkPolicy files a customer's policy ids among the customer's identifiers: partner deliveries
// and publications about the policy name it by them.
func (s *Queries) linkPolicy(ctx context.Context, p domain.Policy) error {
	if p.CustomerID == "" {
		return nil
	}
	refs := []string{domain.RefID + strings.ToLower(p.ID)}
	if p.AvataPolicyUUID != "" {
		refs = append(refs, domain.RefID+strings.ToLower(p.AvataPolicyUUID))
	}
	return s.link(ctx, refCustomer, p.CustomerID, refs)
}

// linkClaim records what a claim's free text names (the claimant's e-mail, anything in the
// reason) and files a customer's claim ids among the customer's identifiers.
func (s *Queries) linkClaim(ctx context.Context, c domain.Claim) error {
	if err := s.link(ctx, refClaim, c.ID, domain.RefsInText([]byte(c.ClaimantEmail+"\n"+c.Reason))); err != nil {
		return err
	}
	if c.CustomerID == "" {
		return nil
	}
	refs := []string{domain.RefID + strings.ToLower(c.ID)}
	if c.AvataClaimUUID != "" {
		refs = append(refs, domain.RefID+strings.ToLower(c.AvataClaimUUID))
	}
	return s.link(ctx, refCustomer, c.CustomerID, refs)
}

// linkPartnerCall records what a partner call's request names (a claimant's e-mail, the holder's
// details) and its subject (the policy or claim it is about): a call filed under nobody (a
// custodial claim) is still found at erasure through them.
func (s *Queries) linkPartnerCall(ctx context.Context, c domain.PartnerCall) error {
	return s.link(ctx, refPartnerCall, c.ID, domain.RefsInText(append([]byte(c.Subject+"\n"), c.Request...)))
}
