// SPDX-License-Identifier: MIT
// A minimal OpenTelemetry Collector for autoprof-bpf's integration test
// (tests/integration/suite-otlp.sh): the core OTLP receiver, the core debug
// exporter, and "profilejson", an exporter of ours that appends every
// batch of profiles the receiver decoded to a file, one line of OTLP JSON
// (pprofile.JSONMarshaler) per batch, so the test reads exactly what the
// Collector understood. Built by tools/build-otelcol.sh into build/otelcol/;
// run with --feature-gates=service.profilesSupport.
package main

import (
	"context"
	"errors"
	"os"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/exporter/xexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

type jsonConfig struct {
	Path string `mapstructure:"path"`
}

type jsonExporter struct {
	path string
	mu   sync.Mutex
}

func (e *jsonExporter) push(_ context.Context, pd pprofile.Profiles) error {
	var m pprofile.JSONMarshaler
	b, err := m.MarshalProfiles(pd)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := os.OpenFile(e.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func jsonFactory() exporter.Factory {
	create := func(ctx context.Context, set exporter.Settings, cfg component.Config) (xexporter.Profiles, error) {
		c := cfg.(*jsonConfig)
		if c.Path == "" {
			return nil, errors.New("profilejson: path is required")
		}
		e := &jsonExporter{path: c.Path}
		return xexporterhelper.NewProfiles(ctx, set, cfg, e.push,
			exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
	}
	return xexporter.NewFactory(component.MustNewType("profilejson"),
		func() component.Config { return &jsonConfig{} },
		xexporter.WithProfiles(create, component.StabilityLevelDevelopment))
}

func factories() (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](debugexporter.NewFactory(), jsonFactory()); err != nil {
		return f, err
	}
	f.Telemetry = otelconftelemetry.NewFactory()
	return f, nil
}

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "otelcol-autoprof", Description: "autoprof-bpf test collector",
			Version: "0.165.0"},
		Factories: factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory()},
				DefaultScheme:     "file",
			},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		os.Exit(1)
	}
}
