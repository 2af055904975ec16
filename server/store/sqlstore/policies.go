package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const quoteCols = `id, kind, partner, partner_proposal_id, customer_id, request, total_amount, total_currency,
	premium_amount, premium_currency, policy_percentage, coverage_percentage, duration_days, terms_url,
	expire_time, create_time`

func scanQuote(r Rows) (domain.Quote, error) {
	var q domain.Quote
	var days int64
	err := r.Scan(&q.ID, &q.Kind, &q.Partner, &q.PartnerProposalID, strDest{&q.CustomerID}, bytesDest{&q.Request},
		&q.TotalValue.Amount, &q.TotalValue.Currency, &q.Premium.Amount, &q.Premium.Currency,
		&q.PolicyPercentage, &q.CoveragePercentage, &days, &q.TermsURL, timeDest{&q.ExpireTime}, timeDest{&q.CreateTime})
	q.DurationDays = int32(days)
	return q, err
}

// GetQuote implements store.QuoteReader.
func (s *Queries) GetQuote(ctx context.Context, id string) (domain.Quote, error) {
	return getOne(ctx, s, "get quote "+id, scanQuote, `SELECT `+quoteCols+` FROM quotes WHERE id = $1`, id)
}

// CreateQuote implements store.QuoteStore.
func (s *Queries) CreateQuote(ctx context.Context, q domain.Quote) (domain.Quote, error) {
	if err := newID(&q.ID); err != nil {
		return q, err
	}
	q.CreateTime = s.now()
	q.ExpireTime = Trunc(q.ExpireTime)
	_, err := s.q.Exec(ctx, `INSERT INTO quotes (`+quoteCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
		q.ID, string(q.Kind), string(q.Partner), q.PartnerProposalID, nstr(q.CustomerID), blob(q.Request),
		q.TotalValue.Amount, q.TotalValue.Currency, q.Premium.Amount, q.Premium.Currency, q.PolicyPercentage,
		q.CoveragePercentage, int64(q.DurationDays), q.TermsURL, s.nts(q.ExpireTime), s.ts(q.CreateTime))
	if err != nil {
		return q, s.mapWriteErr("create quote", err)
	}
	return q, s.link(ctx, refQuote, q.ID, domain.RefsInPayload(q.Request))
}

const policyCols = `id, customer_id, quote_id, partner, kind, product_name, status, version, premium_amount,
	premium_currency, billing_price_type, billing_price_interval, etvas_context_id, etvas_product_id,
	etvas_user_id, avata_policy_uuid, avata_reference, start_time, end_time, status_time, create_time, update_time,
	avata_policy_id, avata_policy_hash, avata_policy_type, avata_partner_status, avata_reported_reference,
	avata_finish_time, avata_owner_wallet, avata_sync_time`

func scanPolicy(r Rows) (domain.Policy, error) {
	var p domain.Policy
	a := &p.Avata
	err := r.Scan(&p.ID, strDest{&p.CustomerID}, strDest{&p.QuoteID}, &p.Partner, &p.Kind, &p.ProductName, &p.Status,
		&p.Version, &p.Premium.Amount, &p.Premium.Currency, &p.Billing.PriceType, &p.Billing.PriceInterval,
		strDest{&p.EtvasContextID}, &p.EtvasProductID, &p.EtvasUserID, strDest{&p.AvataPolicyUUID}, &p.AvataReference,
		timeDest{&p.StartTime}, timeDest{&p.EndTime}, timeDest{&p.StatusTime}, timeDest{&p.CreateTime}, timeDest{&p.UpdateTime},
		&a.PolicyID, &a.PolicyHash, &a.PolicyType, &a.PartnerStatus, &a.Reference, timeDest{&a.FinishTime}, &a.OwnerWallet,
		timeDest{&a.SyncTime})
	return p, err
}

func (s *Queries) policyArgs(p domain.Policy) []any {
	a := p.Avata
	return []any{p.ID, nstr(p.CustomerID), nstr(p.QuoteID), string(p.Partner), string(p.Kind), p.ProductName,
		string(p.Status), p.Version, p.Premium.Amount, p.Premium.Currency, p.Billing.PriceType, p.Billing.PriceInterval,
		nstr(p.EtvasContextID), p.EtvasProductID, p.EtvasUserID, nstr(p.AvataPolicyUUID), p.AvataReference,
		s.nts(p.StartTime), s.nts(p.EndTime), s.nts(p.StatusTime), s.ts(p.CreateTime), s.ts(p.UpdateTime),
		a.PolicyID, a.PolicyHash, a.PolicyType, a.PartnerStatus, a.Reference, s.nts(a.FinishTime),
		strings.ToLower(a.OwnerWallet), s.nts(a.SyncTime)}
}

func normalizePolicy(p *domain.Policy) {
	p.StartTime, p.EndTime, p.StatusTime = Trunc(p.StartTime), Trunc(p.EndTime), Trunc(p.StatusTime)
	p.Avata.FinishTime, p.Avata.SyncTime = Trunc(p.Avata.FinishTime), Trunc(p.Avata.SyncTime)
	p.Avata.OwnerWallet = strings.ToLower(p.Avata.OwnerWallet)
}

// GetPolicy implements store.PolicyReader.
func (s *Queries) GetPolicy(ctx context.Context, id string) (domain.Policy, error) {
	return getOne(ctx, s, "get policy "+id, scanPolicy, `SELECT `+policyCols+` FROM policies WHERE id = $1`, id)
}

// FindPolicyByEtvasContextID implements store.PolicyReader.
func (s *Queries) FindPolicyByEtvasContextID(ctx context.Context, contextID string) (domain.Policy, error) {
	return getOne(ctx, s, "find policy by etvas context id", scanPolicy,
		`SELECT `+policyCols+` FROM policies WHERE etvas_context_id = $1`, contextID)
}

// FindPolicyByAvataUUID implements store.PolicyReader.
func (s *Queries) FindPolicyByAvataUUID(ctx context.Context, avataPolicyUUID string) (domain.Policy, error) {
	return getOne(ctx, s, "find policy by avata uuid", scanPolicy,
		`SELECT `+policyCols+` FROM policies WHERE avata_policy_uuid = $1`, avataPolicyUUID)
}

// FindPolicyByAvataReference implements store.PolicyReader.
func (s *Queries) FindPolicyByAvataReference(ctx context.Context, ref string) (domain.Policy, error) {
	if ref == "" {
		return domain.Policy{}, fmt.Errorf("store: find policy by avata reference: %w", store.ErrNotFound)
	}
	return getOne(ctx, s, "find policy by avata reference", scanPolicy,
		`SELECT `+policyCols+` FROM policies WHERE avata_reference = $1 ORDER BY id DESC LIMIT 1`, ref)
}

// ListPolicies implements store.PolicyReader.
func (s *Queries) ListPolicies(ctx context.Context, pf store.PolicyFilter, page store.PageRequest) (store.Page[domain.Policy], error) {
	var f filter
	if pf.CustomerID != "" {
		f.add("customer_id = ?", pf.CustomerID)
	}
	if pf.Partner != "" {
		f.add("partner = ?", string(pf.Partner))
	}
	if pf.Status != "" {
		f.add("status = ?", string(pf.Status))
	}
	return listPage(ctx, s, "policies", `SELECT `+policyCols+` FROM policies`, &f, page, scanPolicy,
		func(p domain.Policy) string { return p.ID })
}

// CreatePolicy implements store.PolicyStore.
func (s *Queries) CreatePolicy(ctx context.Context, p domain.Policy) (domain.Policy, error) {
	if err := newID(&p.ID); err != nil {
		return p, err
	}
	if p.Status == "" {
		p.Status = domain.PolicyPending
	}
	now := s.now()
	p.Version, p.CreateTime, p.UpdateTime = 1, now, now
	normalizePolicy(&p)
	err := s.execLater(ctx, func(_ int64, err error) error { return s.mapWriteErr("create policy", err) },
		`INSERT INTO policies (`+policyCols+`) VALUES (`+placeholders(30)+`)`, s.policyArgs(p)...)
	if err != nil {
		return p, err
	}
	return p, s.linkPolicy(ctx, p)
}

// UpdatePolicy implements store.PolicyStore.
func (s *Queries) UpdatePolicy(ctx context.Context, p domain.Policy, expectedVersion int64) (domain.Policy, error) {
	p.Version = expectedVersion + 1
	p.UpdateTime = s.now()
	normalizePolicy(&p)
	err := s.queryOne(ctx, func(r Rows) error { return r.Scan(timeDest{&p.CreateTime}) },
		`UPDATE policies SET customer_id=$2, quote_id=$3, partner=$4, kind=$5, product_name=$6,
		status=$7, version=$8, premium_amount=$9, premium_currency=$10, billing_price_type=$11,
		billing_price_interval=$12, etvas_context_id=$13, etvas_product_id=$14, etvas_user_id=$15,
		avata_policy_uuid=$16, avata_reference=$17, start_time=$18, end_time=$19, status_time=$20, update_time=$21,
		avata_policy_id=$23, avata_policy_hash=$24, avata_policy_type=$25, avata_partner_status=$26,
		avata_reported_reference=$27, avata_finish_time=$28, avata_owner_wallet=$29, avata_sync_time=$30
		WHERE id=$1 AND version=$22 RETURNING create_time`,
		p.ID, nstr(p.CustomerID), nstr(p.QuoteID), string(p.Partner), string(p.Kind), p.ProductName,
		string(p.Status), p.Version, p.Premium.Amount, p.Premium.Currency, p.Billing.PriceType, p.Billing.PriceInterval,
		nstr(p.EtvasContextID), p.EtvasProductID, p.EtvasUserID, nstr(p.AvataPolicyUUID), p.AvataReference,
		s.nts(p.StartTime), s.nts(p.EndTime), s.nts(p.StatusTime), s.ts(p.UpdateTime), expectedVersion,
		p.Avata.PolicyID, p.Avata.PolicyHash, p.Avata.PolicyType, p.Avata.PartnerStatus, p.Avata.Reference,
		s.nts(p.Avata.FinishTime), p.Avata.OwnerWallet, s.nts(p.Avata.SyncTime))
	if errors.Is(err, errNoRows) {
		return p, s.versionMiss(ctx, "policies", "update policy", p.ID, expectedVersion)
	}
	if err != nil {
		return p, s.mapWriteErr("update policy", err)
	}
	return p, s.linkPolicy(ctx, p)
}

const claimCols = `id, policy_id, customer_id, avata_claim_uuid, status, reason, claimant_email, document_keys,
	status_time, version, create_time, update_time, avata_claim_id`

func scanClaim(r Rows) (domain.Claim, error) {
	var c domain.Claim
	var keys string
	err := r.Scan(&c.ID, &c.PolicyID, strDest{&c.CustomerID}, strDest{&c.AvataClaimUUID}, &c.Status, &c.Reason,
		&c.ClaimantEmail, &keys, timeDest{&c.StatusTime}, &c.Version, timeDest{&c.CreateTime}, timeDest{&c.UpdateTime},
		&c.AvataClaimID)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(keys), &c.DocumentKeys); err != nil {
		return c, fmt.Errorf("decode document keys of claim %s: %w", c.ID, err)
	}
	return c, nil
}

func encodeKeys(keys []string) (string, error) {
	if keys == nil {
		keys = []string{}
	}
	b, err := json.Marshal(keys)
	return string(b), err
}

// GetClaim implements store.ClaimReader.
func (s *Queries) GetClaim(ctx context.Context, id string) (domain.Claim, error) {
	return getOne(ctx, s, "get claim "+id, scanClaim, `SELECT `+claimCols+` FROM claims WHERE id = $1`, id)
}

// FindClaimByAvataUUID implements store.ClaimReader.
func (s *Queries) FindClaimByAvataUUID(ctx context.Context, avataClaimUUID string) (domain.Claim, error) {
	return getOne(ctx, s, "find claim by avata uuid", scanClaim,
		`SELECT `+claimCols+` FROM claims WHERE avata_claim_uuid = $1`, avataClaimUUID)
}

// ListClaims implements store.ClaimReader.
func (s *Queries) ListClaims(ctx context.Context, cf store.ClaimFilter, page store.PageRequest) (store.Page[domain.Claim], error) {
	var f filter
	if cf.PolicyID != "" {
		f.add("policy_id = ?", cf.PolicyID)
	}
	if cf.CustomerID != "" {
		f.add("customer_id = ?", cf.CustomerID)
	}
	if cf.Status != "" {
		f.add("status = ?", string(cf.Status))
	}
	return listPage(ctx, s, "claims", `SELECT `+claimCols+` FROM claims`, &f, page, scanClaim,
		func(c domain.Claim) string { return c.ID })
}

// CreateClaim implements store.ClaimStore.
func (s *Queries) CreateClaim(ctx context.Context, c domain.Claim) (domain.Claim, error) {
	if err := newID(&c.ID); err != nil {
		return c, err
	}
	if c.Status == "" {
		c.Status = domain.ClaimCreated
	}
	keys, err := encodeKeys(c.DocumentKeys)
	if err != nil {
		return c, fmt.Errorf("store: create claim: %w", err)
	}
	now := s.now()
	c.Version, c.CreateTime, c.UpdateTime, c.StatusTime = 1, now, now, Trunc(c.StatusTime)
	_, err = s.q.Exec(ctx, `INSERT INTO claims (`+claimCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		c.ID, c.PolicyID, nstr(c.CustomerID), nstr(c.AvataClaimUUID), string(c.Status), c.Reason, c.ClaimantEmail, keys,
		s.nts(c.StatusTime), c.Version, s.ts(c.CreateTime), s.ts(c.UpdateTime), c.AvataClaimID)
	if err != nil {
		return c, s.mapWriteErr("create claim", err)
	}
	return c, s.linkClaim(ctx, c)
}

// UpdateClaim implements store.ClaimStore.
func (s *Queries) UpdateClaim(ctx context.Context, c domain.Claim, expectedVersion int64) (domain.Claim, error) {
	keys, err := encodeKeys(c.DocumentKeys)
	if err != nil {
		return c, fmt.Errorf("store: update claim: %w", err)
	}
	c.Version, c.UpdateTime, c.StatusTime = expectedVersion+1, s.now(), Trunc(c.StatusTime)
	err = s.queryOne(ctx, func(r Rows) error { return r.Scan(timeDest{&c.CreateTime}) },
		`UPDATE claims SET policy_id=$2, customer_id=$3, avata_claim_uuid=$4, status=$5, reason=$6,
		claimant_email=$7, document_keys=$8, status_time=$9, version=$10, update_time=$11, avata_claim_id=$13
		WHERE id=$1 AND version=$12 RETURNING create_time`,
		c.ID, c.PolicyID, nstr(c.CustomerID), nstr(c.AvataClaimUUID), string(c.Status), c.Reason, c.ClaimantEmail, keys,
		s.nts(c.StatusTime), c.Version, s.ts(c.UpdateTime), expectedVersion, c.AvataClaimID)
	if errors.Is(err, errNoRows) {
		return c, s.versionMiss(ctx, "claims", "update claim", c.ID, expectedVersion)
	}
	if err != nil {
		return c, s.mapWriteErr("update claim", err)
	}
	return c, s.linkClaim(ctx, c)
}

const docCols = `id, policy_id, partner_key, file_name, content_type, size_bytes, sha256, create_time`

func scanDoc(r Rows) (domain.ClaimDocument, error) {
	var d domain.ClaimDocument
	err := r.Scan(&d.ID, &d.PolicyID, &d.PartnerKey, &d.FileName, &d.ContentType, &d.SizeBytes, &d.SHA256, timeDest{&d.CreateTime})
	return d, err
}

// GetClaimDocument implements store.ClaimReader.
func (s *Queries) GetClaimDocument(ctx context.Context, id string) (domain.ClaimDocument, error) {
	return getOne(ctx, s, "get claim document "+id, scanDoc, `SELECT `+docCols+` FROM claim_documents WHERE id = $1`, id)
}

// ListClaimDocuments implements store.ClaimReader.
func (s *Queries) ListClaimDocuments(ctx context.Context, policyID string, page store.PageRequest) (store.Page[domain.ClaimDocument], error) {
	var f filter
	f.add("policy_id = ?", policyID)
	return listPage(ctx, s, "claim documents", `SELECT `+docCols+` FROM claim_documents`, &f, page, scanDoc,
		func(d domain.ClaimDocument) string { return d.ID })
}

// CreateClaimDocument implements store.ClaimStore.
func (s *Queries) CreateClaimDocument(ctx context.Context, d domain.ClaimDocument) (domain.ClaimDocument, error) {
	if err := newID(&d.ID); err != nil {
		return d, err
	}
	d.CreateTime = s.now()
	_, err := s.q.Exec(ctx, `INSERT INTO claim_documents (`+docCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		d.ID, d.PolicyID, d.PartnerKey, d.FileName, d.ContentType, d.SizeBytes, d.SHA256, s.ts(d.CreateTime))
	return d, s.mapWriteErr("create claim document", err)
}
