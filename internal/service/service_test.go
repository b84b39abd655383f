package service

import "testing"

func TestResolveNameChain(t *testing.T) {
	compose := map[string]string{LabelComposeService: "web", LabelComposeProject: "shop"}
	swarm := map[string]string{LabelSwarmService: "shop_api", LabelStackNamespace: "shopstack"}
	both := map[string]string{
		LabelComposeService: "web", LabelComposeProject: "shop",
		LabelSwarmService: "shop_api", LabelStackNamespace: "shopstack",
	}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		labels map[string]string
		want   Identity
	}{
		{"OTEL_SERVICE_NAME wins over everything", map[string]string{
			EnvServiceName:        "checkout",
			EnvResourceAttributes: "service.name=ignored,service.namespace=payments",
		}, both, Identity{"checkout", FromServiceNameEnv, "payments", FromResourceAttributesEnv}},
		{"OTEL_RESOURCE_ATTRIBUTES next", map[string]string{
			EnvResourceAttributes: "deployment.environment.name=prod, service.name = cart ,service.namespace=shop%20eu",
		}, both, Identity{"cart", FromResourceAttributesEnv, "shop eu", FromResourceAttributesEnv}},
		{"Compose labels next", map[string]string{
			EnvResourceAttributes: "deployment.environment.name=prod",
		}, both, Identity{"web", FromCompose, "shop", FromCompose}},
		{"Compose only", nil, compose, Identity{"web", FromCompose, "shop", FromCompose}},
		{"Swarm labels next", nil, swarm, Identity{"shop_api", FromSwarm, "shopstack", FromSwarm}},
		{"container name last, no namespace", nil, nil, Identity{"myapp-1", FromContainerName, "", None}},
		{"empty values count as absent", map[string]string{
			EnvServiceName: " ", EnvResourceAttributes: "service.name=,service.namespace=",
		}, map[string]string{LabelComposeService: ""}, Identity{"myapp-1", FromContainerName, "", None}},
		{"env name, namespace from Compose", map[string]string{EnvServiceName: "checkout"}, compose,
			Identity{"checkout", FromServiceNameEnv, "shop", FromCompose}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(tc.env, tc.labels, "/myapp-1"); got != tc.want {
				t.Errorf("Resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResourceAttribute(t *testing.T) {
	for _, tc := range []struct{ in, key, want string }{
		{"service.name=a", "service.name", "a"},
		{"x=1,service.name=a,y=2", "service.name", "a"},
		{"service.name=a,service.name=b", "service.name", "b"},
		{"service.name=a%2Cb%3Dc", "service.name", "a,b=c"},
		{"service.name=bad%zz", "service.name", ""},
		{"service.name", "service.name", ""},
		{"my.service.name=a", "service.name", ""},
		{"", "service.name", ""},
		{"service.namespace=ns", "service.name", ""},
	} {
		if got := resourceAttribute(tc.in, tc.key); got != tc.want {
			t.Errorf("resourceAttribute(%q, %q) = %q, want %q", tc.in, tc.key, got, tc.want)
		}
	}
}

func TestSourceString(t *testing.T) {
	for s := None; s <= FromContainerName; s++ {
		if s.String() == "" {
			t.Errorf("Source(%d) has no name", s)
		}
	}
}
