package imageref

import (
	"slices"
	"testing"
)

const (
	hex64  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	digest = "sha256:" + hex64
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want Ref
	}{
		{"nginx", Ref{Name: "nginx", Tag: "latest"}},
		{"nginx:1.27", Ref{Name: "nginx", Tag: "1.27"}},
		{"team/app:v2", Ref{Name: "team/app", Tag: "v2"}},
		{"docker.io/library/nginx:1.27-alpine", Ref{Name: "docker.io/library/nginx", Tag: "1.27-alpine"}},
		{"registry.local:5000/team/app:v2", Ref{Name: "registry.local:5000/team/app", Tag: "v2"}},
		{"registry.local:5000/team/app", Ref{Name: "registry.local:5000/team/app", Tag: "latest"}},
		{"localhost:5000/app", Ref{Name: "localhost:5000/app", Tag: "latest"}},
		{"[::1]:5000/app:1", Ref{Name: "[::1]:5000/app", Tag: "1"}},
		{"nginx@" + digest, Ref{Name: "nginx", Digest: digest}},
		{"nginx:1.27@" + digest, Ref{Name: "nginx", Tag: "1.27", Digest: digest}},
		{"registry.local:5000/team/app:v2@" + digest, Ref{Name: "registry.local:5000/team/app", Tag: "v2", Digest: digest}},
		{"registry.local:5000/team/app@" + digest, Ref{Name: "registry.local:5000/team/app", Digest: digest}},
		{digest, Ref{ID: digest}},
		{"", Ref{}},
		// Nothing Docker accepts, kept whole rather than guessed at.
		{"nginx@notadigest", Ref{Name: "nginx@notadigest"}},
		{"nginx:", Ref{Name: "nginx:"}},
		{"@" + digest, Ref{Name: "@" + digest}},
	} {
		if got := Parse(tc.ref); got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.ref, got, tc.want)
		}
	}
}

func TestTagsAndRepoDigests(t *testing.T) {
	for _, tc := range []struct {
		ref           string
		tags, digests []string
	}{
		{"nginx", []string{"latest"}, nil},
		{"registry.local:5000/app:v2", []string{"v2"}, nil},
		{"registry.local:5000/app@" + digest, nil, []string{"registry.local:5000/app@" + digest}},
		{"nginx:1.27@" + digest, []string{"1.27"}, []string{"nginx@" + digest}},
		{digest, nil, nil},
	} {
		r := Parse(tc.ref)
		if got := r.Tags(); !slices.Equal(got, tc.tags) {
			t.Errorf("Parse(%q).Tags() = %q, want %q", tc.ref, got, tc.tags)
		}
		if got := r.RepoDigests(); !slices.Equal(got, tc.digests) {
			t.Errorf("Parse(%q).RepoDigests() = %q, want %q", tc.ref, got, tc.digests)
		}
	}
}
