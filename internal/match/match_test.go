package match

import (
	"strings"
	"testing"
)

var (
	web = Candidate{
		Name:   "shop-web-1",
		Image:  "registry.local:5000/shop/web:v2.3",
		Labels: map[string]string{"com.docker.compose.project": "shop", "env": "prod", "tier": "frontend", "empty": ""},
	}
	db = Candidate{
		Name:   "shop-db-1",
		Image:  "postgres:16",
		Labels: map[string]string{"com.docker.compose.project": "shop", "env": "prod"},
	}
	pinned = Candidate{
		Name:   "team/batch",
		Image:  "docker.io/library/busybox@sha256:0123abcd",
		Labels: map[string]string{"app.kubernetes.io/name": "batch", "env": "staging"},
	}
	bare = Candidate{Name: "nginx", Image: "nginx"}
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		include Rules
		exclude Rules
		c       Candidate
		want    bool
	}{
		{name: "no rules selects all", c: web, want: true},
		{name: "no rules nil labels", c: bare, want: true},

		// Names.
		{name: "name exact", include: Rules{Names: []string{"shop-web-1"}}, c: web, want: true},
		{name: "name exact miss", include: Rules{Names: []string{"shop-web"}}, c: web, want: false},
		{name: "name glob", include: Rules{Names: []string{"shop-*"}}, c: db, want: true},
		{name: "name leading slash in glob", include: Rules{Names: []string{"/shop-web-1"}}, c: web, want: true},
		{name: "candidate leading slash", include: Rules{Names: []string{"shop-web-1"}}, c: Candidate{Name: "/shop-web-1"}, want: true},
		{name: "name with slash star crosses it", include: Rules{Names: []string{"team*"}}, c: pinned, want: true},
		{name: "name with slash literal", include: Rules{Names: []string{"team/batch"}}, c: pinned, want: true},
		{name: "name with slash question", include: Rules{Names: []string{"team?batch"}}, c: pinned, want: true},
		{name: "name regex unanchored", include: Rules{Names: []string{"/web/"}}, c: web, want: true},
		{name: "name regex anchored miss", include: Rules{Names: []string{"/^web/"}}, c: web, want: false},
		{name: "name regex anchored", include: Rules{Names: []string{`/^shop-(web|api)-\d+$/`}}, c: web, want: true},
		{name: "name regex with slash inside", include: Rules{Names: []string{"/^team/b/"}}, c: pinned, want: true},
		{name: "names OR", include: Rules{Names: []string{"nope", "shop-db-*"}}, c: db, want: true},

		// Images.
		{name: "image host:port glob", include: Rules{Images: []string{"registry.local:5000/*"}}, c: web, want: true},
		{name: "image other port", include: Rules{Images: []string{"registry.local:5001/*"}}, c: web, want: false},
		{name: "image tag glob", include: Rules{Images: []string{"*:v2.*"}}, c: web, want: true},
		{name: "image repo any tag", include: Rules{Images: []string{"postgres:*"}}, c: db, want: true},
		{name: "image bare name is not tagged", include: Rules{Images: []string{"nginx:*"}}, c: bare, want: false},
		{name: "image bare name exact", include: Rules{Images: []string{"nginx"}}, c: bare, want: true},
		{name: "image not normalized", include: Rules{Images: []string{"docker.io/library/*"}}, c: db, want: false},
		{name: "image digest glob", include: Rules{Images: []string{"*@sha256:*"}}, c: pinned, want: true},
		{name: "image digest exact", include: Rules{Images: []string{"docker.io/library/busybox@sha256:0123abcd"}}, c: pinned, want: true},
		{name: "image digest regex", include: Rules{Images: []string{"/busybox@sha256:[0-9a-f]+$/"}}, c: pinned, want: true},
		{name: "image regex unanchored", include: Rules{Images: []string{"/shop/"}}, c: web, want: true},
		{name: "image class", include: Rules{Images: []string{"postgres:1[4-6]"}}, c: db, want: true},

		// Labels.
		{name: "label key present", include: Rules{Labels: []string{"tier"}}, c: web, want: true},
		{name: "label key absent", include: Rules{Labels: []string{"tier"}}, c: db, want: false},
		{name: "label key present empty value", include: Rules{Labels: []string{"empty"}}, c: web, want: true},
		{name: "label key= matches empty value", include: Rules{Labels: []string{"empty="}}, c: web, want: true},
		{name: "label key= needs empty value", include: Rules{Labels: []string{"env="}}, c: web, want: false},
		{name: "label value exact", include: Rules{Labels: []string{"env=prod"}}, c: db, want: true},
		{name: "label value glob", include: Rules{Labels: []string{"env=stag*"}}, c: pinned, want: true},
		{name: "label value glob miss", include: Rules{Labels: []string{"env=stag*"}}, c: db, want: false},
		{name: "label value regex", include: Rules{Labels: []string{"env=/^(prod|staging)$/"}}, c: pinned, want: true},
		{name: "label key with slash", include: Rules{Labels: []string{"app.kubernetes.io/name=bat?h"}}, c: pinned, want: true},
		{name: "label value containing =", include: Rules{Labels: []string{"q=a=b"}}, c: Candidate{Labels: map[string]string{"q": "a=b"}}, want: true},
		{name: "label key is not a glob", include: Rules{Labels: []string{"en*"}}, c: web, want: false},
		{name: "label on nil map", include: Rules{Labels: []string{"env"}}, c: bare, want: false},

		// Combining lists.
		{name: "AND across lists both", include: Rules{Names: []string{"shop-*"}, Labels: []string{"tier=frontend"}}, c: web, want: true},
		{name: "AND across lists one fails", include: Rules{Names: []string{"shop-*"}, Labels: []string{"tier=frontend"}}, c: db, want: false},
		{name: "OR within list", include: Rules{Labels: []string{"tier=frontend", "env=staging"}}, c: pinned, want: true},
		{name: "empty include list does not restrict", include: Rules{Names: []string{"shop-*"}, Images: []string{}}, c: db, want: true},

		// Exclude.
		{name: "exclude only", exclude: Rules{Images: []string{"postgres:*"}}, c: db, want: false},
		{name: "exclude only other", exclude: Rules{Images: []string{"postgres:*"}}, c: web, want: true},
		{name: "exclude wins over include", include: Rules{Names: []string{"shop-db-1"}}, exclude: Rules{Labels: []string{"env=prod"}}, c: db, want: false},
		{name: "exclude any list", exclude: Rules{Names: []string{"nope"}, Labels: []string{"tier"}}, c: web, want: false},
		{name: "exclude no match", include: Rules{Names: []string{"shop-*"}}, exclude: Rules{Names: []string{"*-db-*"}}, c: web, want: true},
		{name: "exclude name regex", exclude: Rules{Names: []string{"/-db-/"}}, c: db, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.include, tc.exclude)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := m.Match(tc.c); got != tc.want {
				t.Fatalf("Match(%+v) = %v, want %v", tc.c, got, tc.want)
			}
		})
	}
}

func TestNilMatcherSelectsAll(t *testing.T) {
	var m *Matcher
	if !m.Match(web) {
		t.Fatal("nil matcher rejected a container")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		include Rules
		exclude Rules
		want    []string // substrings of the error
	}{
		{name: "bad regex", include: Rules{Names: []string{"a", "b", "/(/"}},
			want: []string{`include.names[2]: bad regex "/(/": error parsing regexp`}},
		{name: "bad glob", exclude: Rules{Images: []string{"app:[v1"}},
			want: []string{`exclude.images[0]: bad glob "app:[v1": unterminated character class`}},
		{name: "empty pattern", include: Rules{Images: []string{""}},
			want: []string{`include.images[0]: empty pattern`}},
		{name: "empty regex", include: Rules{Names: []string{"//"}},
			want: []string{`include.names[0]: empty regex "//"`}},
		{name: "lone slash name", include: Rules{Names: []string{"/"}},
			want: []string{`include.names[0]: empty name pattern "/"`}},
		{name: "empty label key", include: Rules{Labels: []string{"=x"}},
			want: []string{`include.labels[0]: empty label key in "=x"`}},
		{name: "empty label", exclude: Rules{Labels: []string{"ok", ""}},
			want: []string{`exclude.labels[1]: empty label key in ""`}},
		{name: "bad label value regex", include: Rules{Labels: []string{"env=/[/"}},
			want: []string{`include.labels[0]: label "env": bad regex "/[/"`}},
		{name: "bad label value glob", exclude: Rules{Labels: []string{"env=[z-a]"}},
			want: []string{`exclude.labels[0]: label "env": bad glob "[z-a]": reversed range`}},
		{name: "trailing backslash", include: Rules{Names: []string{`web\`}},
			want: []string{`include.names[0]: bad glob "web\\": trailing backslash`}},
		{name: "all errors reported",
			include: Rules{Names: []string{"/(/"}, Labels: []string{"=v"}},
			exclude: Rules{Images: []string{"["}},
			want:    []string{"include.names[0]", "include.labels[0]", "exclude.images[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.include, tc.exclude)
			if err == nil {
				t.Fatalf("Compile succeeded, want error")
			}
			if m != nil {
				t.Fatalf("Compile returned a matcher with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMatchGlobZeroAlloc(t *testing.T) {
	m, err := Compile(
		Rules{Names: []string{"shop-*", "*-web-[0-9]"}, Images: []string{"registry.local:5000/*:v?.*"}, Labels: []string{"env=pr*", "tier"}},
		Rules{Names: []string{"*-db-*"}, Labels: []string{"skip=*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match(web) {
		t.Fatal("web should match")
	}
	if n := testing.AllocsPerRun(100, func() { m.Match(web); m.Match(db); m.Match(pinned) }); n != 0 {
		t.Fatalf("Match allocated %v times per run", n)
	}
}
