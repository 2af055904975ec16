// Package idempotency makes mutating RPCs of the internal API safe to retry: a request carrying
// an idempotency key (gRPC metadata `idempotency-key`, HTTP header `Idempotency-Key`) runs at
// most once per caller and key; a retry gets the first response replayed without touching the
// partners again, and the same key with a different request is refused.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// MetadataKey is the gRPC metadata key (grpc-gateway forwards the HTTP header Idempotency-Key
// under this name).
const MetadataKey = "idempotency-key"

// MaxKeyLength is the longest accepted key.
const MaxKeyLength = 255

// DefaultTTL is how long a key is remembered.
const DefaultTTL = 24 * time.Hour

// DefaultLease is how long a key in progress stays held without renewal. A request that runs
// longer renews it every third of the lease; a request whose process died stops renewing, and a
// retry of the same request takes the key over once the lease has passed.
const DefaultLease = 30 * time.Second

// Config configures the interceptor.
type Config struct {
	Store store.Store
	// Package is the protobuf package whose methods are covered (default covergate.insurance.v1).
	Package protoreflect.FullName
	TTL     time.Duration    // default DefaultTTL
	Lease   time.Duration    // default DefaultLease
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
}

// Interceptor holds the covered methods, resolved once from the protobuf registry.
type Interceptor struct {
	cfg     Config
	methods map[string]method // by gRPC full method "/pkg.Service/Method"
}

// method is a covered RPC: its output type, to decode a replayed response.
type method struct {
	output protoreflect.MessageType
}

// New resolves the covered methods: every method of the package whose required scope does not
// end in ".read" (auth.RequiredScope), i.e. every call that changes something.
func New(cfg Config) (*Interceptor, error) {
	if cfg.Store == nil {
		return nil, errors.New("idempotency: Store is required")
	}
	if cfg.Package == "" {
		cfg.Package = "covergate.insurance.v1"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	i := &Interceptor{cfg: cfg, methods: map[string]method{}}
	var rangeErr error
	protoregistry.GlobalFiles.RangeFilesByPackage(cfg.Package, func(fd protoreflect.FileDescriptor) bool {
		services := fd.Services()
		for s := 0; s < services.Len(); s++ {
			sd := services.Get(s)
			methods := sd.Methods()
			for m := 0; m < methods.Len(); m++ {
				md := methods.Get(m)
				if md.IsStreamingClient() || md.IsStreamingServer() || strings.HasSuffix(auth.RequiredScope(md), ".read") {
					continue
				}
				mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
				if err != nil {
					rangeErr = fmt.Errorf("idempotency: output type of %s: %w", md.FullName(), err)
					return false
				}
				i.methods["/"+string(sd.FullName())+"/"+string(md.Name())] = method{output: mt}
			}
		}
		return true
	})
	if rangeErr != nil {
		return nil, rangeErr
	}
	if len(i.methods) == 0 {
		return nil, fmt.Errorf("idempotency: no mutating methods found in package %s", cfg.Package)
	}
	return i, nil
}

// Covers reports whether fullMethod ("/pkg.Service/Method") honours idempotency keys.
func (i *Interceptor) Covers(fullMethod string) bool {
	_, ok := i.methods[fullMethod]
	return ok
}

// Unary returns the interceptor. It must run after authentication (keys are per principal)
// and validation (an invalid request never reserves a key).
func (i *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		m, covered := i.methods[info.FullMethod]
		if !covered {
			return next(ctx, req)
		}
		key, present, err := keyFrom(ctx)
		if err != nil || !present {
			if err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
		msg, ok := req.(proto.Message)
		if !ok {
			return nil, fmt.Errorf("idempotency: %s: request is not a proto message", info.FullMethod)
		}
		p, ok := auth.FromContext(ctx)
		if !ok || p.Name == "" {
			// Keys are scoped to the caller; without one the interceptor is misplaced in the chain.
			return nil, fmt.Errorf("idempotency: %s: no authenticated principal", info.FullMethod)
		}
		hash, err := RequestHash(info.FullMethod, msg)
		if err != nil {
			return nil, err
		}
		return i.run(ctx, call{principal: p.Name, key: key, method: info.FullMethod, hash: hash, output: m.output}, req, next)
	}
}

// call is one keyed request.
type call struct {
	principal, key, method, hash string
	holder                       string // this attempt's id in the key's lease
	output                       protoreflect.MessageType
}

func (i *Interceptor) run(ctx context.Context, c call, req any, next grpc.UnaryHandler) (resp any, herr error) {
	now := i.cfg.Now()
	c.holder = uuid.NewString()
	var existing *store.DuplicateIdempotencyError
	err := i.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		existing = nil
		_, err := tx.ReserveIdempotency(ctx, domain.IdempotencyRecord{
			Principal: c.principal, Key: c.key, Method: c.method, RequestHash: c.hash,
			State: domain.IdempotencyInProgress, CreateTime: now, ExpireTime: now.Add(i.cfg.TTL),
			Holder: c.holder, LeaseExpireTime: now.Add(i.cfg.Lease),
		})
		if errors.As(err, &existing) {
			return nil // the key is taken: decided below, outside the transaction
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("idempotency: reserve key: %w", err)
	}
	if existing != nil {
		return i.replay(c, existing.Existing)
	}
	// The outcome is recorded even if the caller has gone away: the effect happened.
	finish := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	}
	stopRenew := i.renew(ctx, c)
	returned := false
	defer func() {
		stopRenew()
		if !returned {
			// The handler panicked: no response to replay, and the key must not stay held until
			// its lease passes. Released while the panic goes on, unrecovered (its stack intact),
			// to the recovery interceptor.
			done, cancel := finish()
			i.release(done, c, "panic")
			cancel()
		}
	}()
	resp, herr = next(ctx, req)
	returned = true
	stopRenew()
	done, cancel := finish()
	defer cancel()
	if herr != nil {
		// A failed request has no response to replay; freeing the key lets the caller retry.
		i.release(done, c, "failed request")
		return resp, herr
	}
	if err := i.complete(done, c, resp); err != nil {
		// The change is made and the caller gets its answer. A retry with this key runs the
		// request again once the lease passes: the services' own checks (quote already used,
		// state transitions, partner references) decide what a second run does.
		i.cfg.Logger.ErrorContext(ctx, "idempotency: record response", "method", c.method, "error", err)
	}
	return resp, nil
}

// release frees the key after a request ended without a response to keep.
func (i *Interceptor) release(ctx context.Context, c call, why string) {
	err := i.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleaseIdempotency(ctx, c.principal, c.key, c.holder)
	})
	if err != nil {
		i.cfg.Logger.ErrorContext(ctx, "idempotency: release key", "after", why, "method", c.method, "error", err)
	}
}

// renew keeps the key's lease alive while the request runs, every third of the lease, so only a
// request that stopped running (its process died) loses it. The returned stop ends the renewal
// and waits for it; it may be called more than once.
func (i *Interceptor) renew(ctx context.Context, c call) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() { // owned by run: stop waits for it
		defer close(done)
		t := time.NewTicker(i.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.cfg.Lease/3)
			err := i.cfg.Store.InTx(rctx, func(ctx context.Context, tx store.Tx) error {
				return tx.RenewIdempotencyLease(ctx, c.principal, c.key, c.holder, i.cfg.Now().Add(i.cfg.Lease))
			})
			cancel()
			if err != nil {
				i.cfg.Logger.WarnContext(ctx, "idempotency: renew key lease", "method", c.method, "error", err)
				if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
					return // another request holds the key now: nothing left to renew
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

func (i *Interceptor) complete(ctx context.Context, c call, resp any) error {
	msg, ok := resp.(proto.Message)
	if !ok {
		return fmt.Errorf("response of %s is not a proto message", c.method)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	customerID := CustomerIDOf(msg)
	save := func(customerID string) error {
		return i.cfg.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.CompleteIdempotency(ctx, c.principal, c.key, c.holder, b, customerID)
		})
	}
	err = save(customerID)
	if err != nil && customerID != "" {
		// The record references the customer so erasure deletes it; a response naming a
		// customer the store does not hold (nothing to erase) is saved without the reference
		// rather than leaving the key IN_PROGRESS.
		if retryErr := save(""); retryErr == nil {
			return nil
		}
	}
	return err
}

// replay answers a request whose key was used before.
func (i *Interceptor) replay(c call, rec domain.IdempotencyRecord) (any, error) {
	if rec.Method != c.method || rec.RequestHash != c.hash {
		return nil, apierror.New(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"this Idempotency-Key was already used with a different request; use a new key for a new request")
	}
	if rec.State != domain.IdempotencyCompleted {
		return nil, apierror.New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_IN_USE,
			"a request with this Idempotency-Key is still being processed; retry later")
	}
	out := c.output.New().Interface()
	if err := proto.Unmarshal(rec.Response, out); err != nil {
		return nil, fmt.Errorf("idempotency: decode stored response of %s: %w", c.method, err)
	}
	return out, nil
}

// keyFrom reads the key from the incoming metadata; present is false when none was sent.
func keyFrom(ctx context.Context) (key string, present bool, err error) {
	vals := metadata.ValueFromIncomingContext(ctx, MetadataKey)
	if len(vals) == 0 {
		return "", false, nil
	}
	if err := ValidateKeys(vals); err != nil {
		return "", true, err
	}
	return vals[0], true, nil
}

// ValidateKeys checks the values a request sent as its idempotency key: exactly one, 1 to
// MaxKeyLength printable ASCII characters. The error is INVALID_ARGUMENT with a BadRequest
// naming Idempotency-Key. The HTTP gateway calls it before grpc-gateway, which would silently
// drop a value gRPC metadata cannot carry (non-ASCII, control characters) and so run the
// request without its key.
func ValidateKeys(vals []string) error {
	if len(vals) != 1 {
		return invalidKey("send one Idempotency-Key, not several")
	}
	key := vals[0]
	if len(key) == 0 || len(key) > MaxKeyLength {
		return invalidKey(fmt.Sprintf("Idempotency-Key must be 1 to %d characters", MaxKeyLength))
	}
	for j := 0; j < len(key); j++ {
		if key[j] < 0x20 || key[j] > 0x7e {
			return invalidKey("Idempotency-Key must be printable ASCII")
		}
	}
	return nil
}

func invalidKey(msg string) error {
	return apierror.Invalid(msg, []apierror.FieldViolation{{Field: "Idempotency-Key", Description: msg, Reason: "idempotency_key.format"}})
}

// RequestHash identifies a request: SHA-256 over the method and the deterministic encoding of
// the message. A key is bound to it: only the same request may replay or take over the key.
func RequestHash(method string, msg proto.Message) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("idempotency: encode request: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CustomerIDOf finds the customer a response is about (a top-level `customer_id`, or one inside
// a top-level message such as `policy.customer_id`), so that erasing the customer also deletes
// stored responses that may hold personal data.
func CustomerIDOf(msg proto.Message) string {
	r := msg.ProtoReflect()
	if id := customerField(r); id != "" {
		return id
	}
	var found string
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
			found = customerField(v.Message())
		}
		return found == ""
	})
	return found
}

func customerField(m protoreflect.Message) string {
	fd := m.Descriptor().Fields().ByName("customer_id")
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return ""
	}
	return m.Get(fd).String()
}

// Sweep deletes expired keys every interval until ctx ends (log nil = slog.Default()).
func Sweep(ctx context.Context, s store.Store, interval time.Duration, now func() time.Time, log *slog.Logger) error {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var n int64
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.DeleteExpiredIdempotency(ctx, now())
			return err
		})
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			log.WarnContext(ctx, "idempotency: sweep expired keys", "error", err)
		case n > 0:
			log.DebugContext(ctx, "idempotency: expired keys deleted", "count", n)
		}
	}
}
