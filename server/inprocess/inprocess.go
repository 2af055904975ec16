// Package inprocess is the gateway's connection to its own gRPC server for unary calls: a
// grpc.ClientConnInterface that runs the server's interceptor chain and the service handler
// directly, in the caller's goroutine, instead of encoding the call into HTTP/2 frames over an
// in-memory socket and decoding it again on the other side. Everything the interceptors rely on
// is reproduced — incoming metadata (the caller's outgoing metadata), a peer on the in-process
// network (so metrics label the call "http"), grpc.SetHeader/SetTrailer, status errors — so
// request ids, logging, auth, validation and idempotency still run exactly once per call.
// Streaming calls, and methods it does not know, go to the fallback connection.
package inprocess

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Network is the network name of the in-process peer (interceptor.InProcessNetwork).
const Network = "bufconn"

// Conn runs unary calls in process.
type Conn struct {
	methods     map[string]method
	interceptor grpc.UnaryServerInterceptor
	fallback    grpc.ClientConnInterface
	peer        *peer.Peer
}

type method struct {
	impl    any
	handler grpc.MethodHandler
}

var _ grpc.ClientConnInterface = (*Conn)(nil)

// New serves the unary methods that register registers, through interceptor (the server's
// whole unary chain, nil for none); fallback carries everything else (streams).
func New(register func(grpc.ServiceRegistrar), interceptor grpc.UnaryServerInterceptor, fallback grpc.ClientConnInterface) *Conn {
	c := &Conn{
		methods: map[string]method{}, interceptor: interceptor, fallback: fallback,
		peer: &peer.Peer{Addr: addr{}, LocalAddr: addr{}},
	}
	register(registrar(func(desc *grpc.ServiceDesc, impl any) {
		for _, m := range desc.Methods {
			c.methods["/"+desc.ServiceName+"/"+m.MethodName] = method{impl: impl, handler: m.Handler}
		}
	}))
	return c
}

type registrar func(desc *grpc.ServiceDesc, impl any)

func (r registrar) RegisterService(desc *grpc.ServiceDesc, impl any) { r(desc, impl) }

type addr struct{}

var _ net.Addr = addr{}

func (addr) Network() string { return Network }
func (addr) String() string  { return "inprocess" }

// Invoke implements grpc.ClientConnInterface.
func (c *Conn) Invoke(ctx context.Context, fullMethod string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[fullMethod]
	if !ok {
		return c.fallback.Invoke(ctx, fullMethod, args, reply, opts...)
	}
	in, ok1 := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok1 || !ok2 {
		return c.fallback.Invoke(ctx, fullMethod, args, reply, opts...)
	}
	// What the server side sees: the caller's outgoing metadata as incoming (FromOutgoingContext
	// returns a copy: the server may not change the caller's), none outgoing, the in-process peer,
	// and a transport stream collecting the headers and trailers it sets.
	md, _ := metadata.FromOutgoingContext(ctx)
	st := &stream{method: fullMethod}
	sctx := metadata.NewIncomingContext(metadata.NewOutgoingContext(ctx, nil), md)
	sctx = grpc.NewContextWithServerTransportStream(peer.NewContext(sctx, c.peer), st)
	// The handler decodes into its own request message. Its fields are moved over, not copied:
	// the gateway drops its message once the call returns, and a deep copy would hold a second
	// copy of every upload's bytes for the whole call.
	dec := func(v any) error {
		msg, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("inprocess: %s: request type %T is not a protobuf message", fullMethod, v)
		}
		move(msg, in)
		return nil
	}
	resp, err := m.handler(m.impl, sctx, dec, c.interceptor)
	header, trailer := st.result()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = trailer
		}
	}
	if err != nil {
		// As the gRPC server does: a status stays as it is, a context error becomes its code,
		// anything else UNKNOWN.
		s, ok := status.FromError(err)
		if !ok {
			s = status.FromContextError(err)
		}
		return s.Err()
	}
	msg, ok := resp.(proto.Message)
	if !ok || msg == nil || !msg.ProtoReflect().IsValid() {
		return status.Errorf(codes.Internal, "inprocess: %s returned %T, not a message", fullMethod, resp)
	}
	// The answer is moved too: the handler is done with it, and over the network it would have
	// been encoded and decoded into a message of the caller's own.
	proto.Reset(out)
	move(out, msg)
	return nil
}

// move sets dst's fields to src's (sharing their values) when both are the same message type,
// and merges src into dst otherwise.
func move(dst, src proto.Message) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	if d.Descriptor().FullName() != s.Descriptor().FullName() {
		proto.Merge(dst, src)
		return
	}
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
}

// NewStream implements grpc.ClientConnInterface: streams take the fallback connection.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.fallback.NewStream(ctx, desc, method, opts...)
}

// stream implements grpc.ServerTransportStream for one unary call.
type stream struct {
	method  string
	mu      sync.Mutex
	header  metadata.MD
	trailer metadata.MD
	sent    bool
}

func (s *stream) Method() string { return s.method }

func (s *stream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return fmt.Errorf("inprocess: SetHeader after headers were sent")
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *stream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return fmt.Errorf("inprocess: headers already sent")
	}
	s.header = metadata.Join(s.header, md)
	s.sent = true
	return nil
}

func (s *stream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

func (s *stream) result() (metadata.MD, metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Unset stays nil: a nil MD reads as empty, and most calls set no trailer.
	return s.header, s.trailer
}
