package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/scalepoint"
)

// DefaultGatewayURL is where `covergate sandbox send` delivers when no --gateway-url is
// given: a gateway running locally with default settings.
const DefaultGatewayURL = "http://127.0.0.1:8080"

// shutdownTimeout bounds the graceful stop after the command's context ends.
const shutdownTimeout = 10 * time.Second

// sendTimeout bounds one delivery by `covergate sandbox send`.
const sendTimeout = 30 * time.Second

// maxAnswerBytes bounds how much of the gateway's answer is printed.
const maxAnswerBytes = 1 << 20

// RunCommand implements `covergate sandbox [flags]` (run the three sandboxes until ctx
// ends, printing their URLs) and `covergate sandbox send <partner> <event> [flags]`
// (deliver one signed partner event to a gateway and print its answer). args excludes
// the "sandbox" word itself. A non-2xx answer from the gateway is an error.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "send" {
		return runSend(ctx, args[1:], stdout, stderr)
	}
	return runServe(ctx, args, stdout, stderr)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("covergate sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	fs.StringVar(&cfg.EtvasAddr, "etvas-addr", DefaultAddr, "listen address of the Etvas sandbox")
	fs.StringVar(&cfg.AvataAddr, "avata-addr", DefaultAddr, "listen address of the Avata sandbox")
	fs.StringVar(&cfg.ScalepointAddr, "scalepoint-addr", DefaultAddr, "listen address of the Scalepoint sandbox")
	fs.StringVar(&cfg.GatewayURL, "gateway-url", "", "gateway base URL for webhooks/callbacks (empty: none sent)")
	fs.StringVar(&cfg.ScalepointPublishID, "scalepoint-publish-id", scalepoint.PublishIDNumber,
		"how Scalepoint's publish answer carries _id: number (documented), string, missing, empty or text")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: covergate sandbox [flags]\n       covergate sandbox send etvas|avata|scalepoint <event> [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("sandbox: %w", err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("sandbox: unexpected argument %q", fs.Arg(0))
	}
	if cfg.GatewayURL != "" {
		if err := checkURL(cfg.GatewayURL); err != nil {
			return err
		}
	}
	sb, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	printURLs(stdout, sb, cfg.GatewayURL)
	<-ctx.Done()
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := sb.Close(closeCtx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "partner sandboxes stopped")
	return nil
}

func printURLs(w io.Writer, sb *Sandbox, gatewayURL string) {
	e, a, s := sb.URLs()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "partner sandboxes running (stop with Ctrl-C):")
	fmt.Fprintf(tw, "etvas\t%s\tx-api-key %s, event secret %s\n", e, etvas.DefaultAPIKey, etvas.DefaultEventSecret)
	fmt.Fprintf(tw, "avata\t%s\tapi key %s, brand %s, callback secret %s\n", a, avata.DefaultAPIKey, avata.DefaultBrandID, avata.DefaultCallbackSecret)
	fmt.Fprintf(tw, "scalepoint\t%s\tclient %s / %s, webhook token %s\n", s, scalepoint.DefaultClientID, scalepoint.DefaultClientSecret, scalepoint.DefaultWebhookToken)
	_ = tw.Flush()
	fmt.Fprintln(w, "journal: GET <url>/_sandbox/requests   faults: POST <url>/_sandbox/faults")
	if gatewayURL != "" {
		fmt.Fprintf(w, "webhooks/callbacks go to %s\n", gatewayURL)
	} else {
		fmt.Fprintln(w, "no --gateway-url: webhooks/callbacks are not sent")
	}
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: covergate sandbox send etvas|avata|scalepoint <event> [flags]")
		return errors.New("sandbox send: partner is required")
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	var (
		req *http.Request
		err error
	)
	switch args[0] {
	case "etvas":
		return sendEtvas(ctx, args[1:], stdout, stderr)
	case "avata":
		req, err = avataRequest(args[1:], stderr)
	case "scalepoint":
		req, err = scalepointRequest(args[1:], stderr)
	default:
		return fmt.Errorf("sandbox send: unknown partner %q (etvas, avata or scalepoint)", args[0])
	}
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("sandbox send %s: deliver: %w", args[0], err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("sandbox send %s: read answer: %w", args[0], err)
	}
	return printAnswer(stdout, args[0], resp.StatusCode, body)
}

func printAnswer(w io.Writer, partner string, status int, body []byte) error {
	fmt.Fprintf(w, "HTTP %d %s\n", status, http.StatusText(status))
	if len(body) > 0 {
		fmt.Fprintf(w, "%s\n", bytes.TrimRight(body, "\n"))
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("sandbox send %s: gateway answered %d", partner, status)
	}
	return nil
}

func sendEtvas(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("covergate sandbox send etvas <event-name>", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ev etvas.EventRequest
	fs.StringVar(&ev.ContextID, "context-id", "", "purchase context id (required)")
	fs.StringVar(&ev.ProductID, "product-id", "", "product id (default: the sandbox product)")
	fs.StringVar(&ev.Format, "format", etvas.FormatApp, "event format: app (/etvas/events) or portal (/etvas-events)")
	fs.Int64Var(&ev.Timestamp, "timestamp", 0, "event timestamp in ms (default now)")
	gateway := fs.String("gateway-url", DefaultGatewayURL, "gateway base URL")
	apiKey := fs.String("api-key", etvas.DefaultAPIKey, "x-api-key sent with the event")
	secret := fs.String("event-secret", etvas.DefaultEventSecret, "event secret that signs the body")
	etvasURL := fs.String("etvas-url", DefaultEtvasSandboxURL,
		"Etvas sandbox that the gateway calls back (purchase events create their context there first; empty = skip)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("sandbox send etvas: exactly one event name is required, e.g. product.purchased")
	}
	ev.Name = pos[0]
	if err := checkURL(*gateway); err != nil {
		return err
	}
	if err := ev.Validate(time.Now()); err != nil {
		return fmt.Errorf("sandbox send etvas: %w", err)
	}
	if *etvasURL != "" && etvasPurchaseEvent(ev.Name) {
		// The gateway fetches the buyer's profile for the context: make the sandbox know it, as a
		// real purchase would.
		if err := mintContext(ctx, *etvasURL, ev.ContextID, ev.ProductID); err != nil {
			fmt.Fprintf(stderr, "warning: could not create context %q in the Etvas sandbox at %s: %v\n", ev.ContextID, *etvasURL, err)
		}
	}
	d, err := etvas.Deliver(ctx, etvas.NewDeliveryClient(), *gateway, ev, *apiKey, []byte(*secret))
	if err != nil {
		return err
	}
	return printAnswer(stdout, "etvas", d.Status, d.Body)
}

func avataRequest(args []string, stderr io.Writer) (*http.Request, error) {
	fs := flag.NewFlagSet("covergate sandbox send avata policy-update|claim-update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyUUID := fs.String("policy-uuid", "", "policy uuid (required)")
	claimUUID := fs.String("claim-uuid", "", "claim uuid (claim-update; default: a new uuid)")
	statusFlag := fs.String("status", "", "status (default ACCEPTED for policy-update, APPROVED for claim-update)")
	reference := fs.String("reference", "", "policy reference (policy-update)")
	gateway := fs.String("gateway-url", DefaultGatewayURL, "gateway base URL")
	secret := fs.String("callback-secret", avata.DefaultCallbackSecret, "callback secret that signs the body")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, errors.New("sandbox send avata: exactly one event type is required: policy-update or claim-update")
	}
	if err := checkURL(*gateway); err != nil {
		return nil, err
	}
	if *policyUUID == "" {
		return nil, errors.New("sandbox send avata: --policy-uuid is required")
	}
	status := strings.ToUpper(*statusFlag)
	var body []byte
	switch pos[0] {
	case avataPolicyUpdate:
		if status == "" {
			status = "ACCEPTED"
		}
		body, err = avataPolicyCallback(status, *policyUUID, *reference)
	case avataClaimUpdate:
		if status == "" {
			status = "APPROVED"
		}
		if *claimUUID == "" {
			*claimUUID = uuid.NewString()
		}
		body, err = avataClaimCallback(status, *claimUUID, *policyUUID)
	default:
		return nil, fmt.Errorf("sandbox send avata: unknown event type %q (policy-update or claim-update)", pos[0])
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox send avata: %w", err)
	}
	target := strings.TrimRight(*gateway, "/") + avata.CallbackPath
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sandbox send avata: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(avataSignatureHeader, hmacHex([]byte(*secret), body))
	return req, nil
}

func scalepointRequest(args []string, stderr io.Writer) (*http.Request, error) {
	fs := flag.NewFlagSet("covergate sandbox send scalepoint <eventType>", flag.ContinueOnError)
	fs.SetOutput(stderr)
	attributes := fs.String("attributes", "{}", "extra event attributes as a JSON object")
	eventID := fs.String("event-id", "", `event id, e.g. _122047 (default: "_" + current unix ms)`)
	correlationID := fs.String("correlation-id", "", "correlationId (default: a new uuid)")
	gateway := fs.String("gateway-url", DefaultGatewayURL, "gateway base URL")
	token := fs.String("webhook-token", scalepoint.DefaultWebhookToken, "bearer token the webhook carries")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, errors.New("sandbox send scalepoint: exactly one event type is required, e.g. case_created")
	}
	if err := checkURL(*gateway); err != nil {
		return nil, err
	}
	attrs := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(*attributes), &attrs); err != nil || attrs == nil {
		return nil, errors.New("sandbox send scalepoint: --attributes must be a JSON object")
	}
	now := time.Now().UTC()
	if *eventID == "" {
		*eventID = "_" + strconv.FormatInt(now.UnixMilli(), 10)
	}
	if *correlationID == "" {
		*correlationID = uuid.NewString()
	}
	defaults := map[string]string{
		"eventType": pos[0], "payloadVersion": "1.0.0", "correlationId": *correlationID, "timestamp": now.Format(time.RFC3339Nano),
	}
	for k, v := range defaults {
		if _, ok := attrs[k]; !ok {
			attrs[k], _ = json.Marshal(v) // strings always encode
		}
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("sandbox send scalepoint: encode attributes: %w", err)
	}
	return scalepoint.WebhookRequest(*gateway, *token, scalepoint.Event{
		ID: *eventID, Type: pos[0], Timestamp: now.Format(time.RFC3339Nano), Attributes: raw,
	})
}

// parseInterspersed parses flags that may come before or after positional arguments
// (`send etvas product.purchased --context-id X`), which package flag alone does not.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("sandbox: gateway URL %q must be an absolute http(s) URL", raw)
	}
	return nil
}

// DefaultEtvasSandboxURL is where `covergate serve --partners sandbox` runs its Etvas sandbox
// unless --sandbox-etvas-addr says otherwise.
const DefaultEtvasSandboxURL = "http://127.0.0.1:9181"

// mintContext creates (or reuses) a purchase context in an Etvas sandbox.
func mintContext(ctx context.Context, sandboxURL, contextID, productID string) error {
	body, err := json.Marshal(etvas.MintRequest{ContextID: contextID, ProductID: productID})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(sandboxURL, "/")+etvas.TokensPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sandbox answered %d", resp.StatusCode)
	}
	return nil
}
