package receiver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// TestFakeSecretsStayOutOfRecordsAndLogs runs a container whose
// environment, labels and command hold secrets: only the allowlisted
// variable and label, the labels the patterns select, and the service
// identity from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES reach the
// records (not the other entries of OTEL_RESOURCE_ATTRIBUTES, not the
// command, which is off by default), and nothing of them reaches the
// collector's own log, even at debug level.
func TestFakeSecretsStayOutOfRecordsAndLogs(t *testing.T) {
	const secret = "s3cr3t-value-7f1c"
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{
		Name: "secretive", Image: "app:1",
		Env: []string{
			"DB_PASSWORD=" + secret, "DEPLOY_ENV=prod",
			"OTEL_SERVICE_NAME=billing",
			"OTEL_RESOURCE_ATTRIBUTES=service.name=ignored,db.password=" + secret + ",service.namespace=finance",
		},
		Labels: map[string]string{"token": secret, "team": "payments", "com.example.tier": "backend"},
		Cmd:    []string{"/app", "--password=" + secret},
	})
	d.WriteLines(id, fakedocker.Stdout, "hello")

	cfg := fakeCfg(d)
	cfg.EnvToAttributes = map[string]string{"DEPLOY_ENV": "deployment.environment"}
	cfg.LabelsToAttributes = map[string]string{"team": "team"}
	cfg.Labels = LabelsConfig{Include: []string{"*"}, Exclude: []string{"token"}}
	core, logs := observer.New(zap.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	tt := componenttest.NewTelemetry()
	set.TelemetrySettings = tt.NewTelemetrySettings()
	set.Logger = zap.New(core)
	sink := &fakeSink{}
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	must(t, err)
	must(t, r.Start(context.Background(), componenttest.NewNopHost()))
	got := sink.waitBody(t, id, "hello")
	must(t, r.Shutdown(context.Background()))
	_ = tt.Shutdown(context.Background())

	res := got[0].Resource
	if v, ok := res["deployment.environment"]; !ok || v != "prod" {
		t.Errorf("allowlisted variable missing from the resource: %v", res)
	}
	if v, ok := res["team"]; !ok || v != "payments" {
		t.Errorf("allowlisted label missing from the resource: %v", res)
	}
	if v, ok := res["container.label.team"]; ok {
		t.Errorf("a renamed label was copied under its pattern name too: container.label.team=%v", v)
	}
	if v := res["container.label.com.example.tier"]; v != "backend" {
		t.Errorf("label selected by labels.include missing from the resource: %v", res)
	}
	if res["service.name"] != "billing" || res["service.namespace"] != "finance" {
		t.Errorf("service identity from the environment missing: %v", res)
	}
	for k, v := range res {
		if strings.Contains(k+fmt.Sprint(v), secret) {
			t.Errorf("a secret reached the resource: %s=%s", k, v)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no log entries captured: the check below would prove nothing")
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		if strings.Contains(line, secret) {
			t.Errorf("a secret reached the collector's log: %s", line)
		}
	}
}
