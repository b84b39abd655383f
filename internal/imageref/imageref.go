// Package imageref splits the image reference a container was created from
// into the parts the OpenTelemetry container.image.* attributes want.
//
// Docker accepts, and stores verbatim in the container's Config.Image:
//
//	name                       nginx, team/app, localhost/app
//	name:tag                   nginx:1.27
//	registry[:port]/name:tag   registry.local:5000/team/app:v2
//	name@digest                nginx@sha256:0123…
//	name:tag@digest            nginx:1.27@sha256:0123…
//	an image ID                sha256:0123… (docker run <image ID>; no name)
//
// References are not normalized: "nginx" stays "nginx" (Docker would
// expand it to docker.io/library/nginx), so that the attribute matches
// what the user wrote and what include.images patterns see.
package imageref // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/imageref"

import "strings"

// DefaultTag is the tag Docker assumes for a reference with neither a tag
// nor a digest.
const DefaultTag = "latest"

// Ref is a parsed image reference.
type Ref struct {
	// Name is the repository with its registry, without tag and digest
	// ("registry.local:5000/team/app"); empty for an image ID, which
	// names no repository.
	Name string
	// Tag is the tag as written, or DefaultTag when the reference has
	// neither a tag nor a digest; empty for a digest-only reference and
	// for an image ID.
	Tag string
	// Digest is "algorithm:hex" when the reference pins one.
	Digest string
	// ID is the reference when it is an image ID ("sha256:…").
	ID string
}

// Parse splits ref. It never fails: a reference it cannot make sense of
// (Docker would have refused it) becomes a Ref whose Name is ref itself.
func Parse(ref string) Ref {
	if ref == "" {
		return Ref{}
	}
	if isImageID(ref) {
		return Ref{ID: ref}
	}
	r := Ref{Name: ref}
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		if name == "" || !isDigest(digest) {
			return Ref{Name: ref}
		}
		r.Name, r.Digest = name, digest
	}
	// A ':' after the last '/' starts the tag; one before it belongs to
	// the registry's port.
	if i := strings.LastIndexByte(r.Name, ':'); i > strings.LastIndexByte(r.Name, '/') {
		if i == 0 || i == len(r.Name)-1 {
			return Ref{Name: ref}
		}
		r.Name, r.Tag = r.Name[:i], r.Name[i+1:]
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r
}

// Tags is the container.image.tags value: the tag as a one-element list,
// or nil when the reference has none.
func (r Ref) Tags() []string {
	if r.Tag == "" {
		return nil
	}
	return []string{r.Tag}
}

// RepoDigests is the container.image.repo_digests value: "name@digest"
// when the reference pins a digest, nil otherwise.
func (r Ref) RepoDigests() []string {
	if r.Digest == "" {
		return nil
	}
	return []string{r.Name + "@" + r.Digest}
}

// isImageID reports whether ref is "sha256:" followed by 64 hex digits,
// the form `docker run` accepts for an image ID.
func isImageID(ref string) bool {
	hex, ok := strings.CutPrefix(ref, "sha256:")
	return ok && len(hex) == 64 && isHex(hex)
}

// isDigest reports whether d looks like "algorithm:encoded", as in
// sha256:<64 hex> or sha512:<128 hex>.
func isDigest(d string) bool {
	algo, enc, ok := strings.Cut(d, ":")
	if !ok || algo == "" || enc == "" {
		return false
	}
	for _, c := range algo {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	for _, c := range enc {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '=' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
