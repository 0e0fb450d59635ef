package sdk

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// newResource describes this process. Later sources win over earlier ones: the built-in
// detectors, then Options, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (so `loupe
// run`'s loupe.run.id and loupe.run.name arrive on every signal). The command line is left
// out on purpose: arguments can hold secrets. A detector that fails costs only its own
// attributes; the error is returned beside a usable resource.
func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", o.ServiceName)}
	if o.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", o.ServiceVersion))
	}
	attrs = append(attrs, o.Attributes...)
	res, err := resource.New(ctx,
		resource.WithService(), // a random service.instance.id: the `instance` label in PromQL
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessOwner(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithContainerID(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if res == nil {
		return nil, fmt.Errorf("detect resource: %w", err)
	}
	if err != nil {
		return res, fmt.Errorf("detect resource (partly): %w", err)
	}
	return res, nil
}
