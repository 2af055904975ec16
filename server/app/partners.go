package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/sandbox"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/webhook"
)

// Partner modes.
const (
	PartnersAuto    = "auto"    // sandbox when no partner credential is configured and every listener is on loopback, else live
	PartnersSandbox = "sandbox" // embedded sandboxes, development credentials
	PartnersLive    = "live"    // the configured partner endpoints
)

// PartnersConfig is where the partners are and how we authenticate to them and they to us.
type PartnersConfig struct {
	Mode string

	// Listen addresses of the embedded sandboxes (sandbox mode). Fixed by default so that a
	// newcomer's curl and `covergate sandbox send` find them; tests use port 0.
	SandboxEtvasAddr      string
	SandboxAvataAddr      string
	SandboxScalepointAddr string

	EtvasURL           string
	EtvasAPIKey        string // x-api-key we send (and, unless EtvasWebhookAPIKey, Etvas sends us)
	EtvasWebhookAPIKey string // x-api-key Etvas sends on its events; default EtvasAPIKey
	// EtvasPortalAPIKeyRequired: developer-portal events (/etvas-events) must carry x-api-key.
	// Off, they are verified by x-etvas-signature, or else by Etvas's verify-token.
	EtvasPortalAPIKeyRequired bool
	EtvasEventSecret          string // x-etvas-signature key; optional
	EtvasSigningSecret        string // request signing; optional
	EtvasExternalDataMethod   string // POST (the Etvas App document) or PUT (the SDK)
	EtvasExternalDataDelete   string // "null" (write {"data":null}) or DELETE
	EtvasCurrency             string // currency of Etvas prices, which carry none

	AvataURL            string
	AvataAPIKey         string
	AvataBrandID        string
	AvataCallbackSecret string
	AvataMerchantKey    string
	AvataChainID        int64
	AvataPaths          string // route table: verb or rest (Avata documents no paths)
	AvataAPIKeyHeader   string // header of the api key (Avata documents none); default x-api-key
	// AvataCallbackSignatureRequired: callbacks must carry X-Avata-Signature. Off, unsigned
	// callbacks are accepted as hints and verified by fetching the policy/claim from Avata.
	AvataCallbackSignatureRequired bool

	ScalepointURL          string
	ScalepointTokenURL     string
	ScalepointClientID     string
	ScalepointClientSecret string
	ScalepointCertFile     string
	ScalepointKeyFile      string
	ScalepointCountry      string
	ScalepointTenant       string
	ScalepointWebhookToken string
	// ScalepointWebhookTokenRequired: pushed events must carry the bearer token. Off, a push
	// without it is answered 202 "deferred" and the long poll (required then) fetches the event.
	ScalepointWebhookTokenRequired bool
	ScalepointPoll                 bool
}

func (p *PartnersConfig) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&p.Mode, "partners", p.Mode, "partner endpoints: auto (sandbox when no credential is set and every listener is on loopback), sandbox or live")
	fs.StringVar(&p.SandboxEtvasAddr, "sandbox-etvas-addr", p.SandboxEtvasAddr, "listen address of the embedded Etvas sandbox (sandbox mode)")
	fs.StringVar(&p.SandboxAvataAddr, "sandbox-avata-addr", p.SandboxAvataAddr, "listen address of the embedded Avata sandbox (sandbox mode)")
	fs.StringVar(&p.SandboxScalepointAddr, "sandbox-scalepoint-addr", p.SandboxScalepointAddr, "listen address of the embedded Scalepoint sandbox (sandbox mode)")
	fs.StringVar(&p.EtvasURL, "etvas-url", p.EtvasURL, "Etvas API base URL")
	fs.StringVar(&p.EtvasAPIKey, "etvas-api-key", p.EtvasAPIKey, "Etvas API key (sent to Etvas, and required on Etvas webhooks)")
	fs.StringVar(&p.EtvasWebhookAPIKey, "etvas-webhook-api-key", p.EtvasWebhookAPIKey, "x-api-key Etvas sends on its events (default: --etvas-api-key)")
	fs.BoolVar(&p.EtvasPortalAPIKeyRequired, "etvas-portal-api-key-required", p.EtvasPortalAPIKeyRequired,
		"require x-api-key on Etvas developer-portal events (/etvas-events); false: verify them by x-etvas-signature or else Etvas's verify-token")
	fs.StringVar(&p.EtvasEventSecret, "etvas-event-secret", p.EtvasEventSecret, "Etvas event secret: when set, x-etvas-signature is required on webhooks")
	fs.StringVar(&p.EtvasSigningSecret, "etvas-signing-secret", p.EtvasSigningSecret, "Etvas request-signing secret (optional)")
	fs.StringVar(&p.EtvasExternalDataMethod, "etvas-external-data-method", p.EtvasExternalDataMethod, "HTTP method Etvas accepts for external-data writes: POST (the App document) or PUT (the SDK)")
	fs.StringVar(&p.EtvasExternalDataDelete, "etvas-external-data-delete", p.EtvasExternalDataDelete, `how external data is cleared: null (write {"data":null}) or DELETE`)
	fs.StringVar(&p.EtvasCurrency, "etvas-currency", p.EtvasCurrency, "ISO 4217 currency of the prices in Etvas events (Etvas sends none)")
	fs.StringVar(&p.AvataURL, "avata-url", p.AvataURL, "Avata API base URL")
	fs.StringVar(&p.AvataAPIKey, "avata-api-key", p.AvataAPIKey, "Avata API key")
	fs.StringVar(&p.AvataBrandID, "avata-brand-id", p.AvataBrandID, "Avata X-Brand-Id (optional)")
	fs.StringVar(&p.AvataCallbackSecret, "avata-callback-secret", p.AvataCallbackSecret, "shared secret of X-Avata-Signature on Avata callbacks")
	fs.BoolVar(&p.AvataCallbackSignatureRequired, "avata-callback-signature-required", p.AvataCallbackSignatureRequired,
		"require X-Avata-Signature on Avata callbacks; false: unsigned callbacks are verified by fetching the policy/claim from Avata")
	fs.StringVar(&p.AvataMerchantKey, "avata-merchant-wallet-key", p.AvataMerchantKey, "hex private key of the merchant wallet (signs sign-in and claim-portal links)")
	fs.Int64Var(&p.AvataChainID, "avata-chain-id", p.AvataChainID, "chain id for Avata wallet sign-in")
	fs.StringVar(&p.AvataPaths, "avata-paths", p.AvataPaths, "Avata route table (undocumented by Avata): verb or rest")
	fs.StringVar(&p.AvataAPIKeyHeader, "avata-api-key-header", p.AvataAPIKeyHeader, "header carrying the Avata api key (undocumented by Avata): x-api-key, api_key or Authorization")
	fs.StringVar(&p.ScalepointURL, "scalepoint-url", p.ScalepointURL, "Scalepoint EventApi base URL")
	fs.StringVar(&p.ScalepointTokenURL, "scalepoint-token-url", p.ScalepointTokenURL, "Scalepoint OAuth2 token endpoint")
	fs.StringVar(&p.ScalepointClientID, "scalepoint-client-id", p.ScalepointClientID, "Scalepoint OAuth2 client id")
	fs.StringVar(&p.ScalepointClientSecret, "scalepoint-client-secret", p.ScalepointClientSecret, "Scalepoint client secret (client_secret authentication)")
	fs.StringVar(&p.ScalepointCertFile, "scalepoint-cert-file", p.ScalepointCertFile, "PEM certificate for private_key_jwt authentication")
	fs.StringVar(&p.ScalepointKeyFile, "scalepoint-key-file", p.ScalepointKeyFile, "PEM RSA key for private_key_jwt authentication")
	fs.StringVar(&p.ScalepointCountry, "scalepoint-country", p.ScalepointCountry, "Scalepoint country of our tenant")
	fs.StringVar(&p.ScalepointTenant, "scalepoint-tenant", p.ScalepointTenant, "Scalepoint tenant name")
	fs.StringVar(&p.ScalepointWebhookToken, "scalepoint-webhook-token", p.ScalepointWebhookToken, "bearer token Scalepoint sends on /webhooks/scalepoint")
	fs.BoolVar(&p.ScalepointWebhookTokenRequired, "scalepoint-webhook-token-required", p.ScalepointWebhookTokenRequired,
		"require the bearer token on pushed Scalepoint events; false: a push without it is answered 202 and fetched by the long poll (needs --scalepoint-poll)")
	fs.BoolVar(&p.ScalepointPoll, "scalepoint-poll", p.ScalepointPoll, "also pull Scalepoint events with the long-poll receive API")
}

// credentialsGiven reports whether any live credential is configured.
func (p PartnersConfig) credentialsGiven() bool {
	for _, v := range []string{p.EtvasAPIKey, p.AvataAPIKey, p.ScalepointClientID, p.ScalepointClientSecret, p.ScalepointCertFile} {
		if v != "" {
			return true
		}
	}
	return false
}

// effectiveMode resolves auto.
func (p PartnersConfig) effectiveMode() string {
	if p.Mode == PartnersAuto {
		if p.credentialsGiven() {
			return PartnersLive
		}
		return PartnersSandbox
	}
	return p.Mode
}

func (p PartnersConfig) validate() []string {
	var problems []string
	switch p.Mode {
	case PartnersAuto, PartnersSandbox, PartnersLive:
	default:
		return []string{fmt.Sprintf("partners %q: want auto, sandbox or live", p.Mode)}
	}
	if m := strings.ToUpper(p.EtvasExternalDataMethod); m != "PUT" && m != "POST" {
		problems = append(problems, "etvas-external-data-method: want POST or PUT")
	}
	if d := p.EtvasExternalDataDelete; d != "" && !strings.EqualFold(d, etvas.ExternalDataDeleteNull) && !strings.EqualFold(d, etvas.ExternalDataDeleteMethod) {
		problems = append(problems, "etvas-external-data-delete: want null or DELETE")
	}
	if !currencyPattern.MatchString(p.EtvasCurrency) {
		problems = append(problems, fmt.Sprintf("etvas-currency %q: want an ISO 4217 code such as EUR", p.EtvasCurrency))
	}
	effective := p
	if p.effectiveMode() == PartnersSandbox {
		effective = sandboxSecrets(p)
	}
	problems = append(problems, effective.webhookConfig().Problems(p.ScalepointPoll)...)
	if p.effectiveMode() != PartnersLive {
		return problems
	}
	required := map[string]string{
		"etvas-api-key": p.EtvasAPIKey, "avata-url": p.AvataURL, "avata-api-key": p.AvataAPIKey,
		"scalepoint-url":       p.ScalepointURL,
		"scalepoint-token-url": p.ScalepointTokenURL, "scalepoint-client-id": p.ScalepointClientID,
		"scalepoint-tenant": p.ScalepointTenant,
	}
	for _, name := range sortedKeys(required) {
		if required[name] == "" {
			problems = append(problems, name+" is required with live partners")
		}
	}
	if p.ScalepointClientSecret == "" && (p.ScalepointCertFile == "" || p.ScalepointKeyFile == "") {
		problems = append(problems, "scalepoint: set scalepoint-client-secret, or scalepoint-cert-file and scalepoint-key-file")
	}
	if (p.ScalepointCertFile == "") != (p.ScalepointKeyFile == "") {
		problems = append(problems, "scalepoint-cert-file and scalepoint-key-file go together")
	}
	return problems
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// webhookConfig is how partners authenticate to us (without the Etvas verify-token client,
// which exists only once the adapters are built).
func (p PartnersConfig) webhookConfig() webhook.Config {
	key := p.EtvasWebhookAPIKey
	if key == "" {
		key = p.EtvasAPIKey
	}
	return webhook.Config{
		EtvasAPIKey:               key,
		EtvasPortalAPIKeyOptional: !p.EtvasPortalAPIKeyRequired,
		EtvasEventSecret:          p.EtvasEventSecret,
		AvataCallbackSecret:       p.AvataCallbackSecret,
		AvataSignatureOptional:    !p.AvataCallbackSignatureRequired,
		ScalepointWebhookToken:    p.ScalepointWebhookToken,
		ScalepointTokenOptional:   !p.ScalepointWebhookTokenRequired,
	}
}

// validateAutoSandbox keeps `--partners auto` from choosing the sandbox by accident. The sandbox
// accepts publicly known secrets (they are in the README), so a production deploy that forgot
// its credentials would accept forged webhooks. Auto picks the sandbox only when every listener
// is on loopback — a developer's machine; anything reachable from elsewhere must say
// `--partners sandbox` on purpose or configure the credentials.
func (cfg Config) validateAutoSandbox() []string {
	p := cfg.Partners
	if p.Mode != PartnersAuto || p.credentialsGiven() {
		return nil
	}
	listeners := []struct{ flag, addr string }{
		{"grpc-addr", cfg.GRPCAddr}, {"http-addr", cfg.HTTPAddr},
		{"sandbox-etvas-addr", p.SandboxEtvasAddr}, {"sandbox-avata-addr", p.SandboxAvataAddr},
		{"sandbox-scalepoint-addr", p.SandboxScalepointAddr},
	}
	var exposed []string
	for _, l := range listeners {
		if !loopbackAddr(l.addr) {
			exposed = append(exposed, fmt.Sprintf("%s %s", l.flag, l.addr))
		}
	}
	if len(exposed) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("partners auto: no partner credential is set, and the sandbox (publicly known secrets) is chosen only when every listener is on loopback, but %s is not; "+
		"pass --partners sandbox to run the sandbox on purpose, or set the live credentials (%s)",
		strings.Join(exposed, ", "), strings.Join(liveCredentialFlags, ", "))}
}

// liveCredentialFlags are the credentials live partners need (see validate).
var liveCredentialFlags = []string{
	"etvas-api-key", "avata-api-key", "avata-callback-secret", "scalepoint-client-id",
	"scalepoint-client-secret or scalepoint-cert-file + scalepoint-key-file", "scalepoint-webhook-token",
}

// loopbackAddr reports whether host:port listens only on loopback. An empty host or an
// unspecified address (0.0.0.0, ::) listens everywhere; a host name other than localhost may
// resolve anywhere, so it does not count as loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Partners are the adapters the services use, the secrets partners authenticate to us with,
// and the embedded sandbox when there is one.
type Partners struct {
	Etvas      *etvas.Client
	Avata      *avata.Client
	Scalepoint *scalepoint.Client
	Config     PartnersConfig // effective, sandbox defaults filled in
	Sandbox    *sandbox.Sandbox
}

// partnerOptions are the process-level pieces the adapters share.
type partnerOptions struct {
	gatewayURL string               // where the sandboxes deliver webhooks
	observer   partnerhttp.Observer // metrics of partner calls and breakers
	httpClient *http.Client         // traced transport
}

// startPartners builds the adapters; in sandbox mode it first starts the embedded sandboxes,
// delivering their webhooks to the gateway, and points the adapters at them.
func startPartners(ctx context.Context, cfg PartnersConfig, opts partnerOptions, log *slog.Logger) (*Partners, error) {
	p := &Partners{Config: cfg}
	if cfg.effectiveMode() == PartnersSandbox {
		sb, err := sandbox.Start(ctx, sandbox.Config{
			EtvasAddr: cfg.SandboxEtvasAddr, AvataAddr: cfg.SandboxAvataAddr, ScalepointAddr: cfg.SandboxScalepointAddr,
			GatewayURL: opts.gatewayURL, Logger: log.With("component", "sandbox"),
		})
		if err != nil {
			return nil, fmt.Errorf("start partner sandbox: %w", err)
		}
		p.Sandbox = sb
		// The embedded Etvas sandbox accepts the external-data write method the gateway is
		// configured with (its default reading is the App document's POST).
		if err := sb.Etvas.SetReadings(etvasbox.Readings{ExternalDataWrite: strings.ToUpper(cfg.EtvasExternalDataMethod)}); err != nil {
			_ = p.Close(ctx)
			return nil, fmt.Errorf("start partner sandbox: %w", err)
		}
		// The embedded Avata sandbox follows the readings the adapter is
		// configured for, so `--avata-paths rest` works end to end too.
		if err := sb.Avata.SetReadings(avatabox.Readings{Paths: cfg.AvataPaths, APIKeyHeader: cfg.AvataAPIKeyHeader}); err != nil {
			_ = p.Close(ctx)
			return nil, fmt.Errorf("start partner sandbox: avata: %w", err)
		}
		p.Config = sandboxCredentials(cfg, sb)
		log.Info("partner sandbox running", "etvas", p.Config.EtvasURL, "avata", p.Config.AvataURL, "scalepoint", p.Config.ScalepointURL)
	}
	if err := p.buildClients(opts, log); err != nil {
		_ = p.Close(ctx)
		return nil, err
	}
	return p, nil
}

// sandboxCredentials fills in the sandbox endpoints and the development credentials the
// sandboxes accept; values configured explicitly are kept.
func sandboxCredentials(cfg PartnersConfig, sb *sandbox.Sandbox) PartnersConfig {
	etvasURL, avataURL, scalepointURL := sb.URLs()
	cfg.EtvasURL, cfg.AvataURL, cfg.ScalepointURL = etvasURL, avataURL, scalepointURL
	cfg.ScalepointTokenURL = scalepointURL + "/connect/token"
	return sandboxSecrets(cfg)
}

// sandboxSecrets fills in the development credentials the sandboxes accept; values configured
// explicitly are kept.
func sandboxSecrets(cfg PartnersConfig) PartnersConfig {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&cfg.EtvasAPIKey, etvasbox.DefaultAPIKey)
	def(&cfg.EtvasEventSecret, etvasbox.DefaultEventSecret)
	def(&cfg.AvataAPIKey, avatabox.DefaultAPIKey)
	def(&cfg.AvataBrandID, avatabox.DefaultBrandID)
	def(&cfg.AvataCallbackSecret, avatabox.DefaultCallbackSecret)
	def(&cfg.AvataMerchantKey, avatabox.DefaultMerchantWalletKey)
	def(&cfg.ScalepointClientID, scalepointbox.DefaultClientID)
	def(&cfg.ScalepointClientSecret, scalepointbox.DefaultClientSecret)
	def(&cfg.ScalepointTenant, scalepointbox.DefaultTenant)
	def(&cfg.ScalepointWebhookToken, scalepointbox.DefaultWebhookToken)
	cfg.ScalepointCountry = scalepointbox.DefaultCountry
	return cfg
}

func (p *Partners) buildClients(opts partnerOptions, log *slog.Logger) error {
	c := p.Config
	var err error
	if p.Etvas, err = etvas.New(etvas.Config{
		BaseURL: c.EtvasURL, APIKey: c.EtvasAPIKey, SigningSecret: c.EtvasSigningSecret,
		ExternalDataWriteMethod: strings.ToUpper(c.EtvasExternalDataMethod), ExternalDataDelete: c.EtvasExternalDataDelete,
		HTTPClient: opts.httpClient, Observer: opts.observer, Logger: log,
	}); err != nil {
		return fmt.Errorf("etvas client: %w", err)
	}
	avataPaths, err := avata.PathsNamed(c.AvataPaths)
	if err != nil {
		return fmt.Errorf("avata client: %w", err)
	}
	if p.Avata, err = avata.New(avata.Config{
		BaseURL: c.AvataURL, APIKey: c.AvataAPIKey, BrandID: c.AvataBrandID,
		Paths: avataPaths, APIKeyHeader: c.AvataAPIKeyHeader,
		MerchantWalletKey: c.AvataMerchantKey, ChainID: c.AvataChainID,
		HTTP: partnerhttp.Config{HTTPClient: opts.httpClient, Observer: opts.observer, Logger: log},
	}); err != nil {
		return fmt.Errorf("avata client: %w", err)
	}
	if p.Scalepoint, err = scalepoint.New(scalepoint.Config{
		BaseURL: c.ScalepointURL, Country: c.ScalepointCountry, Tenant: c.ScalepointTenant,
		OAuth: scalepoint.OAuthConfig{
			TokenURL: c.ScalepointTokenURL, ClientID: c.ScalepointClientID, ClientSecret: c.ScalepointClientSecret,
			CertFile: c.ScalepointCertFile, KeyFile: c.ScalepointKeyFile, HTTPClient: opts.httpClient,
		},
		HTTPClient: opts.httpClient, Observer: opts.observer, Logger: log,
	}); err != nil {
		return fmt.Errorf("scalepoint client: %w", err)
	}
	return nil
}

// Close releases the adapters and stops the sandbox.
func (p *Partners) Close(ctx context.Context) error {
	var errs []error
	if p.Etvas != nil {
		p.Etvas.Close()
	}
	if p.Avata != nil {
		p.Avata.Close()
	}
	if p.Scalepoint != nil {
		p.Scalepoint.Close()
	}
	if p.Sandbox != nil {
		if err := p.Sandbox.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("partner sandbox: %w", err))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
