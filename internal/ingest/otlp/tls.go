package otlp

import (
	"crypto/tls"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// grpcCreds serves gRPC over TLS with cfg, or in plain text when cfg is nil.
func grpcCreds(cfg *tls.Config) grpc.ServerOption {
	if cfg == nil {
		return grpc.EmptyServerOption{}
	}
	return grpc.Creds(credentials.NewTLS(cfg))
}
