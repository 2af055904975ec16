package partnerops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// Activation and KYC are calls Avata can take twice with the same effect (activating an
// activated policy activates it; KYC data sent again replaces the same data), so a call whose
// answer was lost is resolved by sending it again. That is our reading: Avata's documentation
// says nothing about repeats.

// Activation activates a booking policy with Avata.
type Activation struct {
	Policy  domain.Policy
	Request avata.ActivatePolicyRequest
	Source  lifecycle.Source `json:"-"`
}

// KYC sends KYC data for a customer's policy.
type KYC struct {
	Customer domain.Customer `json:"-"`
	// CustomerID is kept so the recording can be redone after a restart.
	CustomerID string
	Policy     domain.Policy
	Request    avata.KYCRequest
	Source     lifecycle.Source `json:"-"`
}

// resendable is one call of that kind: how to send it and how to record its effect.
type resendable struct {
	op, key, hash, subject, customerID string
	request                            any
	send                               func(ctx context.Context) error
	record                             func(ctx context.Context, tx store.Tx, cur domain.PartnerCall, src lifecycle.Source) (resultIDs, error)
	src                                lifecycle.Source
}

// Activate activates a booking policy with Avata and records it ACTIVE (if it is PENDING).
func (o *Ops) Activate(ctx context.Context, in Activation) (domain.Policy, error) {
	r := o.activation(in)
	c, err := o.runResendable(ctx, r)
	if err != nil {
		return domain.Policy{}, err
	}
	return o.cfg.Store.GetPolicy(ctx, decodeResult(c).PolicyID)
}

func (o *Ops) activation(in Activation) resendable {
	return resendable{
		op: domain.OpAvataActivate, key: domain.OpAvataActivate + ":" + in.Policy.ID, subject: domain.SubjectPolicies + in.Policy.ID,
		hash: RequestHash(in.Request), customerID: in.Policy.CustomerID, request: in, src: in.Source,
		send: func(ctx context.Context) error {
			_, err := o.cfg.Avata.ActivatePolicy(ctx, in.Request)
			return err
		},
		record: func(ctx context.Context, tx store.Tx, _ domain.PartnerCall, src lifecycle.Source) (resultIDs, error) {
			p, err := tx.GetPolicy(ctx, in.Policy.ID)
			if err != nil {
				return resultIDs{}, err
			}
			// A callback may have activated it meanwhile: the same outcome.
			if p.Status == domain.PolicyPending {
				if _, _, err := o.cfg.Lifecycle.TransitionPolicy(ctx, tx, p, domain.PolicyActive, o.now(), "activated through the API", src); err != nil {
					return resultIDs{}, err
				}
			}
			return resultIDs{PolicyID: p.ID}, nil
		},
	}
}

// SubmitKYC sends KYC data to Avata and records the submission on the customer.
func (o *Ops) SubmitKYC(ctx context.Context, in KYC) (domain.Customer, error) {
	in.CustomerID = in.Customer.ID
	c, err := o.runResendable(ctx, o.kyc(in))
	if err != nil {
		return domain.Customer{}, err
	}
	return o.cfg.Store.GetCustomer(ctx, decodeResult(c).CustomerID)
}

func (o *Ops) kyc(in KYC) resendable {
	hash := RequestHash(in.CustomerID, in.Request)
	return resendable{
		op: domain.OpAvataKYC, key: domain.OpAvataKYC + ":" + in.Policy.ID + ":" + hash[:16], subject: domain.SubjectCustomers + in.CustomerID,
		hash: hash, customerID: in.CustomerID, request: in, src: in.Source,
		send: func(ctx context.Context) error {
			_, err := o.cfg.Avata.SubmitKYC(ctx, in.Request)
			return err
		},
		record: func(ctx context.Context, tx store.Tx, _ domain.PartnerCall, src lifecycle.Source) (resultIDs, error) {
			status, err := domain.EncodeKYCStatus(domain.KYCSubmission{PolicyID: in.Policy.ID, SubmitTime: o.now()})
			if err != nil {
				return resultIDs{}, err
			}
			c, err := o.cfg.Lifecycle.RecordKYC(ctx, tx, in.CustomerID, in.Request.Provider, in.Policy.ID, status, src)
			return resultIDs{CustomerID: c.ID}, err
		},
	}
}

// runResendable is the durable before and after of a call that can be sent again.
func (o *Ops) runResendable(ctx context.Context, r resendable) (domain.PartnerCall, error) {
	for round := 0; round < 3; round++ {
		prev, err := o.cfg.Store.FindPartnerCall(ctx, r.key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return prev, fmt.Errorf("partnerops: %s: %w", r.op, err)
		case prev.State == domain.PartnerCallPending:
			// The same operation is in flight (a retry, or a concurrent request): its outcome is ours.
			if prev, err = o.wait(ctx, prev); err != nil {
				return prev, errInProgress("the request")
			}
			if prev.State == domain.PartnerCallSucceeded && prev.RequestHash == r.hash {
				return prev, nil
			}
			continue
		}
		req, err := json.Marshal(r.request)
		if err != nil {
			return prev, fmt.Errorf("partnerops: encode %s: %w", r.op, err)
		}
		call, err := o.begin(ctx, domain.PartnerCall{
			Operation: r.op, Subject: r.subject, DedupeKey: r.key, RequestHash: r.hash, Request: req, CustomerID: r.customerID,
		})
		if errors.Is(err, store.ErrDuplicate) {
			continue
		}
		if err != nil {
			return call, fmt.Errorf("partnerops: record %s intent: %w", r.op, err)
		}
		return detach(o, ctx, func(ctx context.Context) (domain.PartnerCall, error) {
			return o.afterResend(ctx, call, r, r.send(ctx))
		})
	}
	return domain.PartnerCall{}, errInProgress("the request")
}

func (o *Ops) afterResend(ctx context.Context, call domain.PartnerCall, r resendable, err error) (domain.PartnerCall, error) {
	switch {
	case err == nil:
		settled, err := o.settle(ctx, call.ID, func(ctx context.Context, tx store.Tx, cur domain.PartnerCall) (domain.PartnerCall, error) {
			ids, err := r.record(ctx, tx, cur, source(cur, r.src))
			if err != nil {
				return cur, err
			}
			return o.cfg.Lifecycle.SettlePartnerCall(ctx, tx, cur, domain.PartnerCallSucceeded, encodeResult(ids), "")
		})
		if err != nil {
			o.cfg.Logger.ErrorContext(ctx, "partner call done but not recorded yet: the reconciler will record it",
				"partner_call_id", call.ID, "operation", r.op, "error", err)
			return call, &recordError{fmt.Errorf("partnerops: record %s: %w", r.op, err)}
		}
		if settled.State != domain.PartnerCallSucceeded {
			return settled, failedErr(settled)
		}
		return settled, nil
	case classify(err) == outcomeNo:
		o.fail(ctx, call, err)
		return call, err
	}
	o.unknown(ctx, call, err)
	return call, err
}

func (o *Ops) reconcileActivate(ctx context.Context, c domain.PartnerCall) error {
	var in Activation
	if err := json.Unmarshal(c.Request, &in); err != nil {
		o.fail(ctx, c, fmt.Errorf("undecodable request: %w", err))
		return nil
	}
	r := o.activation(in)
	_, err := o.afterResend(ctx, c, r, r.send(ctx))
	return ignoreSettled(err)
}

func (o *Ops) reconcileKYC(ctx context.Context, c domain.PartnerCall) error {
	var in KYC
	if err := json.Unmarshal(c.Request, &in); err != nil {
		o.fail(ctx, c, fmt.Errorf("undecodable request: %w", err))
		return nil
	}
	r := o.kyc(in)
	_, err := o.afterResend(ctx, c, r, r.send(ctx))
	return ignoreSettled(err)
}
