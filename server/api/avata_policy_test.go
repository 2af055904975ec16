package api_test

import (
	"testing"
	"time"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
)

func TestAvataPolicyData(t *testing.T) {
	start := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	// The documented policy-update example's details, as a fetch would report them.
	fetched := api.AvataUpdateFromPolicy(&avata.Policy{
		UUID: "d7b9f5b0-4b4b-11eb-ae93-0242ac130002", PolicyID: "1234567890", PolicyType: "DIGITAL_ASSET", Status: "APPROVED",
		StartDateTime: "2021-01-01T00:00:00.000Z", EndDateTime: "2021-01-02T00:00:00.000Z",
		PurchaseData: avata.PurchaseData{Reference: "1234567890"},
	})
	if fetched.Data.PolicyID != "1234567890" || !fetched.Start.Equal(start) || !fetched.End.Equal(end) || fetched.Data.PartnerStatus != "APPROVED" {
		t.Fatalf("from details = %+v", fetched)
	}
	for _, tc := range []struct {
		name        string
		stored      domain.Policy
		update      api.AvataPolicyUpdate
		wantChanged bool
		check       func(domain.Policy) bool
	}{
		{"fills an empty policy", domain.Policy{}, fetched, true, func(p domain.Policy) bool {
			return p.Avata.PolicyID == "1234567890" && p.StartTime.Equal(start) && p.EndTime.Equal(end) && p.Avata.SyncTime.Equal(now)
		}},
		{"the same data again changes nothing", func() domain.Policy { p, _ := api.MergeAvata(domain.Policy{}, fetched, now); return p }(), fetched, false, nil},
		{"empty values never erase", domain.Policy{Avata: domain.AvataPolicyData{PolicyHash: "0xfeed"}, StartTime: start},
			api.AvataPolicyUpdate{Data: domain.AvataPolicyData{PartnerStatus: "EXPIRED"}}, true, func(p domain.Policy) bool {
				return p.Avata.PolicyHash == "0xfeed" && p.StartTime.Equal(start) && p.Avata.PartnerStatus == "EXPIRED"
			}},
		{"the owner wallet is never touched", domain.Policy{Avata: domain.AvataPolicyData{OwnerWallet: "0xabc"}},
			api.AvataPolicyUpdate{Data: domain.AvataPolicyData{OwnerWallet: "0xdef", PolicyID: "P"}}, true, func(p domain.Policy) bool {
				return p.Avata.OwnerWallet == "0xabc" && p.Avata.PolicyID == "P"
			}},
		{"fetched data wins over the callback's, which fills gaps", domain.Policy{},
			api.AvataPolicyUpdate{Data: domain.AvataPolicyData{PolicyID: "fetched"}}.Over(api.AvataPolicyUpdate{
				Data: domain.AvataPolicyData{PolicyID: "callback", PolicyType: "NFT", Reference: "ref"}, Start: start}), true,
			func(p domain.Policy) bool {
				return p.Avata.PolicyID == "fetched" && p.Avata.PolicyType == "NFT" && p.Avata.Reference == "ref" && p.StartTime.Equal(start)
			}},
		{"unreadable dates are left out", domain.Policy{StartTime: start},
			api.AvataUpdateFromPolicy(&avata.Policy{StartDateTime: "next tuesday", FinishedAt: "2021-01-03"}), true, func(p domain.Policy) bool {
				return p.StartTime.Equal(start) && p.Avata.FinishTime.Equal(time.Date(2021, 1, 3, 0, 0, 0, 0, time.UTC))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := api.MergeAvata(tc.stored, tc.update, now)
			if changed != tc.wantChanged || (tc.check != nil && !tc.check(got)) {
				t.Fatalf("MergeAvata = %+v, changed %v", got, changed)
			}
			if !changed && got != tc.stored {
				t.Fatalf("an unchanged merge modified the policy: %+v", got)
			}
		})
	}
}
