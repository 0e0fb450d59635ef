package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// grpcCheck checks the "authorization" metadata of an incoming call for scope.
func (k *Keyring) grpcCheck(ctx context.Context, scope Scope) error {
	if !k.Enabled() {
		return nil
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
	out, msg := k.check(ip, header, scope)
	switch out {
	case missing, invalid, expired:
		return status.Error(codes.Unauthenticated, msg)
	case forbidden:
		return status.Error(codes.PermissionDenied, msg)
	case rateLimited:
		return status.Error(codes.ResourceExhausted, msg)
	}
	return nil
}

// GRPCServerOptions are the interceptors that require a token with scope on every unary
// and streaming call.
func (k *Keyring) GRPCServerOptions(scope Scope) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := k.grpcCheck(ctx, scope); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := k.grpcCheck(ss.Context(), scope); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}
