package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/internal/tenant"
)

// grpcCheck checks the "authorization" metadata of an incoming call for scope, and returns
// ctx with the tenant the token is bound to, if any (tenant.WithBound).
func (k *Keyring) grpcCheck(ctx context.Context, scope Scope) (context.Context, error) {
	if !k.Enabled() {
		return ctx, nil
	}
	var header, ip string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		ip = remoteIP(p.Addr.String())
	}
	out, msg, bound := k.check(ip, header, scope)
	switch out {
	case missing, invalid, expired:
		return ctx, status.Error(codes.Unauthenticated, msg)
	case forbidden:
		return ctx, status.Error(codes.PermissionDenied, msg)
	case rateLimited:
		return ctx, status.Error(codes.ResourceExhausted, msg)
	}
	if bound != "" {
		ctx = tenant.WithBound(ctx, bound)
	}
	return ctx, nil
}

// GRPCServerOptions are the interceptors that require a token with scope on every unary
// and streaming call.
func (k *Keyring) GRPCServerOptions(scope Scope) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, err := k.grpcCheck(ctx, scope)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ctx, err := k.grpcCheck(ss.Context(), scope)
			if err != nil {
				return err
			}
			return h(srv, contextStream{ss, ctx})
		}),
	}
}

// contextStream is a server stream with the context the interceptor gave it.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }
