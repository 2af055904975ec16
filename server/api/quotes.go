package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/interceptor"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// DefaultQuoteTTL is how long a quote can be bought when Settings.QuoteTTL is zero.
const DefaultQuoteTTL = 15 * time.Minute

// QuoteService prices cover with Avata proposals and stores them as quotes.
type QuoteService struct {
	insurancev1.UnimplementedQuoteServiceServer
	d Deps
}

func newQuoteService(d Deps) insurancev1.QuoteServiceServer { return &QuoteService{d: d} }

// apiSource is the lifecycle source of a change made by an internal API call: the request id
// links the event log entry to the request's log line.
func apiSource(ctx context.Context, p domain.Partner) lifecycle.Source {
	return lifecycle.Source{Partner: p, Channel: lifecycle.ChannelAPI, Ref: interceptor.RequestID(ctx)}
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func (d Deps) quoteTTL() time.Duration {
	if d.Settings.QuoteTTL > 0 {
		return d.Settings.QuoteTTL
	}
	return DefaultQuoteTTL
}

// CreateQuote asks Avata for a proposal and stores it with its expiry.
func (s *QuoteService) CreateQuote(ctx context.Context, req *insurancev1.CreateQuoteRequest) (*insurancev1.CreateQuoteResponse, error) {
	total, err := MoneyFromProto(req.GetTotalValue())
	if err != nil {
		return nil, invalidField("total_value.amount", "money.decimal", err.Error())
	}
	if id := req.GetCustomerId(); id != "" {
		if _, err := activeCustomer(ctx, s.d.Store, id); err != nil {
			return nil, err
		}
	}
	terms, err := quoteTerms(req, total)
	if err != nil {
		return nil, err
	}
	proposal, err := s.propose(ctx, terms)
	if err != nil {
		return nil, err // the partner's error carries its code and ErrorInfo
	}
	q, err := quoteFromProposal(terms, proposal)
	if err != nil {
		return nil, err
	}
	now := s.d.now()
	q.CustomerID = req.GetCustomerId()
	q.ExpireTime = now.Add(s.d.quoteTTL())
	if q.ID, err = domain.NewID(); err != nil {
		return nil, err
	}
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		stored, err := s.d.Lifecycle.CreateQuote(ctx, tx, q, apiSource(ctx, domain.PartnerAvata))
		if err == nil {
			q = stored
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("api: create quote: store: %w", err)
	}
	return &insurancev1.CreateQuoteResponse{Quote: QuoteToProto(q)}, nil
}

// GetQuote returns a stored quote, expired ones included.
func (s *QuoteService) GetQuote(ctx context.Context, req *insurancev1.GetQuoteRequest) (*insurancev1.GetQuoteResponse, error) {
	q, err := s.d.Store.GetQuote(ctx, req.GetQuoteId())
	if err != nil {
		return nil, storeError(err, "quote")
	}
	return &insurancev1.GetQuoteResponse{Quote: QuoteToProto(q)}, nil
}

// quoteTerms turns the request into the terms we ask Avata to price, checking what protovalidate
// cannot: the token must be the currency of the total value.
func quoteTerms(req *insurancev1.CreateQuoteRequest, total domain.Money) (domain.QuoteTerms, error) {
	t := domain.QuoteTerms{TotalValue: total}
	checkToken := func(tok insurancev1.Token, field string) error {
		if name := tokenName(tok); name != total.Currency {
			return invalidField(field, "token.currency",
				fmt.Sprintf("%s is %s but total_value.currency_code is %s: they must be the same", field, name, total.Currency))
		}
		return nil
	}
	switch c := req.GetCover().(type) {
	case *insurancev1.CreateQuoteRequest_Nft:
		if err := checkToken(c.Nft.GetToken(), "nft.token"); err != nil {
			return t, err
		}
		t.Kind = domain.KindNFT
		t.Chain, t.Token = chainNames[c.Nft.GetChain()], tokenName(c.Nft.GetToken())
		t.Country = countryNames[c.Nft.GetCountry()]
		t.NFTContract, t.Marketplace = c.Nft.GetNftContractAddress(), c.Nft.GetMarketplaceContractAddress()
	case *insurancev1.CreateQuoteRequest_Booking:
		if err := checkToken(c.Booking.GetToken(), "booking.token"); err != nil {
			return t, err
		}
		t.Kind = domain.KindBooking
		t.Chain, t.Token = chainNames[c.Booking.GetChain()], tokenName(c.Booking.GetToken())
		t.Country = countryNames[c.Booking.GetCountry()]
		t.NFTIDs, t.CheckInDate = c.Booking.GetNftIds(), c.Booking.GetCheckInDate()
	case *insurancev1.CreateQuoteRequest_DigitalAsset:
		t.Kind = domain.KindDigitalAsset
		t.Country = countryNames[c.DigitalAsset.GetCountry()]
	default:
		return t, invalidField("cover", "required", "one of nft, booking or digital_asset is required")
	}
	return t, nil
}

// propose asks Avata to price the terms.
func (s *QuoteService) propose(ctx context.Context, t domain.QuoteTerms) (*avata.Proposal, error) {
	total, err := avata.DecimalToNumber(t.TotalValue.Amount)
	if err != nil {
		return nil, invalidField("total_value.amount", "money.decimal", err.Error())
	}
	switch t.Kind {
	case domain.KindNFT:
		return s.d.Avata.ProposeNFT(ctx, avata.NFTProposalRequest{
			TotalValue: total, Chain: t.Chain, NFTContractID: t.NFTContract, CountryCode: t.Country,
			MarketplaceContractID: t.Marketplace, Token: t.Token,
		})
	case domain.KindBooking:
		ids := make([]json.RawMessage, len(t.NFTIDs))
		for i, id := range t.NFTIDs {
			ids[i] = json.RawMessage(strconv.Quote(id)) // validated 0x-hex: quoting is exact JSON
		}
		return s.d.Avata.ProposeBooking(ctx, avata.BookingProposalRequest{
			TotalValue: total, Chain: t.Chain, NFTIDs: ids, CountryCode: t.Country, CheckInDate: t.CheckInDate, Token: t.Token,
		})
	default:
		return s.d.Avata.ProposeDigitalAsset(ctx, avata.DigitalAssetProposalRequest{
			TotalValue: total, CountryCode: t.Country, CurrencyCode: "eur",
		})
	}
}

// quoteFromProposal converts Avata's numbers to exact decimals. The proposal must price the value
// we asked for: anything else is a bad answer, not something to sell.
func quoteFromProposal(t domain.QuoteTerms, p *avata.Proposal) (domain.Quote, error) {
	bad := func(what string, err error) error {
		return apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE,
			"the carrier's proposal could not be understood", "partner", avata.PartnerName, "field", what,
			"detail", fmt.Sprint(err))
	}
	if p.ID == "" {
		return domain.Quote{}, bad("id", fmt.Errorf("missing proposal id"))
	}
	total, err := avata.NumberToDecimal(p.TotalValue)
	if err != nil {
		return domain.Quote{}, bad("totalValue", err)
	}
	if c, err := domain.CompareDecimal(total, t.TotalValue.Amount); err != nil || c != 0 {
		return domain.Quote{}, bad("totalValue", fmt.Errorf("priced %s, asked %s", total, t.TotalValue.Amount))
	}
	price, err := avata.NumberToDecimal(p.PolicyPrice)
	if err != nil {
		return domain.Quote{}, bad("policyPrice", err)
	}
	// Avata prices exactly (2.5 % of an 18-decimal amount has 21 digits): the premium keeps the
	// 18 digits every supported token can carry, rounded half-to-even.
	if price, _, err = domain.RoundDecimal(price, domain.MaxDecimalPlaces); err != nil {
		return domain.Quote{}, bad("policyPrice", err)
	}
	q := domain.Quote{
		Kind: t.Kind, Partner: domain.PartnerAvata, PartnerProposalID: p.ID,
		TotalValue: t.TotalValue, Premium: domain.Money{Amount: price, Currency: t.TotalValue.Currency},
		TermsURL: p.PolicyTermsURL,
	}
	if q.PolicyPercentage, err = optionalDecimal(p.PolicyPercentage); err != nil {
		return domain.Quote{}, bad("policyPercentage", err)
	}
	if q.CoveragePercentage, err = optionalDecimal(p.CoveragePercentage); err != nil {
		return domain.Quote{}, bad("coveragePercentage", err)
	}
	if p.Duration != "" {
		days, err := strconv.ParseInt(p.Duration.String(), 10, 32)
		if err != nil || days < 0 {
			return domain.Quote{}, bad("duration", fmt.Errorf("duration %q is not a whole number of days", p.Duration))
		}
		q.DurationDays = int32(days)
	}
	t.PolicyLogoURL, t.PartnerLogoURL = p.PolicyLogoURL, p.AvataLogoURL
	if q.Request, err = domain.EncodeQuoteTerms(t); err != nil {
		return domain.Quote{}, err
	}
	return q, nil
}

func optionalDecimal(n json.Number) (string, error) {
	if n == "" {
		return "", nil
	}
	return avata.NumberToDecimal(n)
}

// activeCustomer loads a customer that still holds personal data.
func activeCustomer(ctx context.Context, r store.CustomerReader, id string) (domain.Customer, error) {
	c, err := r.GetCustomer(ctx, id)
	if err != nil {
		return domain.Customer{}, storeError(err, "customer")
	}
	if c.Status == domain.CustomerErased {
		return domain.Customer{}, invalidState("customer "+id+" has been erased", "resource", "customer")
	}
	return c, nil
}
