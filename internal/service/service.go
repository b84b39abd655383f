// Package service resolves the OpenTelemetry service identity
// (service.name, service.namespace) of a container from what Docker knows
// about it.
//
// service.name is the first non-empty value of
//
//  1. the container's OTEL_SERVICE_NAME environment variable,
//  2. service.name in its OTEL_RESOURCE_ATTRIBUTES environment variable,
//  3. the Compose label com.docker.compose.service,
//  4. the Swarm label com.docker.swarm.service.name,
//  5. the container name.
//
// service.namespace is the first non-empty value of service.namespace in
// OTEL_RESOURCE_ATTRIBUTES, the Compose label com.docker.compose.project
// and the Swarm label com.docker.stack.namespace; without one it stays
// unset. The two are resolved independently, so an SDK-named service in a
// Compose project gets the project as its namespace.
//
// These are the only two environment variables read without an allowlist;
// nothing else of them (the other OTEL_RESOURCE_ATTRIBUTES entries
// included) leaves this package.
package service // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/service"

import (
	"net/url"
	"strings"
)

// The variables and labels the identity is read from.
const (
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	LabelComposeService   = "com.docker.compose.service"
	LabelComposeProject   = "com.docker.compose.project"
	LabelSwarmService     = "com.docker.swarm.service.name"
	LabelStackNamespace   = "com.docker.stack.namespace"
)

// Source says where a value came from.
type Source int

// Sources in the order they are tried.
const (
	None Source = iota
	FromServiceNameEnv
	FromResourceAttributesEnv
	FromCompose
	FromSwarm
	FromContainerName
)

func (s Source) String() string {
	switch s {
	case FromServiceNameEnv:
		return EnvServiceName
	case FromResourceAttributesEnv:
		return EnvResourceAttributes
	case FromCompose:
		return "compose"
	case FromSwarm:
		return "swarm"
	case FromContainerName:
		return "container.name"
	default:
		return "none"
	}
}

// Identity is a container's resolved service identity.
type Identity struct {
	Name          string
	NameFrom      Source
	Namespace     string // empty when no source has one
	NamespaceFrom Source
}

// Resolve returns the identity of a container with the given environment
// (only OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read), labels
// and name. Values are trimmed of surrounding spaces; an empty value
// counts as absent.
func Resolve(env, labels map[string]string, containerName string) Identity {
	var id Identity
	resAttrs := env[EnvResourceAttributes]
	id.Name, id.NameFrom = first(
		candidate{env[EnvServiceName], FromServiceNameEnv},
		candidate{resourceAttribute(resAttrs, "service.name"), FromResourceAttributesEnv},
		candidate{labels[LabelComposeService], FromCompose},
		candidate{labels[LabelSwarmService], FromSwarm},
		candidate{strings.TrimPrefix(containerName, "/"), FromContainerName},
	)
	id.Namespace, id.NamespaceFrom = first(
		candidate{resourceAttribute(resAttrs, "service.namespace"), FromResourceAttributesEnv},
		candidate{labels[LabelComposeProject], FromCompose},
		candidate{labels[LabelStackNamespace], FromSwarm},
	)
	return id
}

type candidate struct {
	value  string
	source Source
}

func first(cs ...candidate) (string, Source) {
	for _, c := range cs {
		if v := strings.TrimSpace(c.value); v != "" {
			return v, c.source
		}
	}
	return "", None
}

// resourceAttribute returns the value of key in an OTEL_RESOURCE_ATTRIBUTES
// value: comma-separated key=value pairs with percent-encoded values, as
// the SDK specification defines it. A pair without '=' or with a value
// that does not decode is skipped, like the SDKs do; when key appears more
// than once the last one wins.
func resourceAttribute(s, key string) string {
	var found string
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, ",")
		k, v, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		dec, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		found = dec
	}
	return found
}
