package match

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"nginx", []string{"nginx"}, []string{"nginx:1.27", "xnginx", ""}},
		{"*", []string{"", "a", "a/b:c@sha256:0"}, nil},
		{"**", []string{"", "a/b"}, nil},
		{"nginx*", []string{"nginx", "nginx:1.27", "nginx-exporter"}, []string{"docker.io/library/nginx"}},
		{"*nginx", []string{"nginx", "library/nginx"}, []string{"nginx:1"}},
		{"*nginx*", []string{"docker.io/library/nginx:1.27"}, []string{"ngin"}},
		{"registry.local:5000/team/*", []string{"registry.local:5000/team/app:v2", "registry.local:5000/team/sub/app"}, []string{"registry.local:5001/team/app"}},
		{"*/team/*:v?", []string{"r:5000/team/app:v2"}, []string{"r:5000/team/app:v10", "team/app:v2"}},
		{"*@sha256:*", []string{"app@sha256:abc"}, []string{"app:sha256"}},
		{"a?c", []string{"abc", "a/c", "a:c", "aéc"}, []string{"ac", "abbc"}},
		{"a*b*c", []string{"abc", "a/b/c", "axxbyyc", "abcbc", "abbc"}, []string{"ab", "acb", "abcx"}},
		{"*a*a", []string{"aa", "xaxa", "aaa"}, []string{"a", "aab"}},
		{"[abc]x", []string{"ax", "cx"}, []string{"dx", "x", "abx"}},
		{"[a-c0-9]", []string{"b", "7"}, []string{"d", "-"}},
		{"[^a-c]", []string{"d", "/"}, []string{"a", ""}},
		{"[!a-c]", []string{"d"}, []string{"b"}},
		{`[\]\-]`, []string{"]", "-"}, []string{"\\"}},
		{`\*`, []string{"*"}, []string{"a", `\*`}},
		{`a\?b`, []string{"a?b"}, []string{"axb"}},
		{"web-[0-9]*", []string{"web-1", "web-12/x"}, []string{"web-x"}},
		{"*-[0-9]", []string{"proj-web-1"}, []string{"proj-web-12"}},
		{"é*", []string{"é", "éa"}, []string{"e"}},
		{"?", []string{"é", "/"}, []string{"", "ab"}},
		{"*???", []string{"abc", "먡01"}, []string{"먡0"}}, // runes, not bytes
		{"*?", []string{"a", "ab"}, []string{""}},
		{"x*[ab]*y", []string{"xay", "x/b/y", "xzzbzzy"}, []string{"xy", "xcy"}},
	}
	for _, tc := range tests {
		g, err := compileGlob(tc.pattern)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", tc.pattern, err)
		}
		for _, s := range tc.yes {
			if !g.match(s) {
				t.Errorf("%q should match %q", tc.pattern, s)
			}
		}
		for _, s := range tc.no {
			if g.match(s) {
				t.Errorf("%q should not match %q", tc.pattern, s)
			}
		}
	}
}

func TestGlobBad(t *testing.T) {
	for _, p := range []string{"[", "[a", "[]", "[^]", "[a-", "[a-]", "[-a]", "[z-a]", `\`, `a\`, `[\`, "[a\xff]"} {
		if _, err := compileGlob(p); err == nil {
			t.Errorf("compileGlob(%q) succeeded, want error", p)
		}
	}
}

// TestGlobAgreesWithPathMatch checks the "path.Match-like" claim: on values
// without '/', where path.Match's special treatment of '/' cannot matter,
// both agree, and every pattern path.Match rejects is rejected here too.
func TestGlobAgreesWithPathMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const patAlpha = `ab-*?[]^\:` // no '!': it negates only here
	const valAlpha = `ab-]:^\*?`
	randString := func(alpha string, max int) string {
		var b strings.Builder
		for range rng.IntN(max + 1) {
			b.WriteByte(alpha[rng.IntN(len(alpha))])
		}
		return b.String()
	}
	checked := 0
	for range 200000 {
		p := randString(patAlpha, 7)
		g, err := compileGlob(p)
		_, perr := path.Match(p, "")
		if perr != nil {
			if err == nil {
				t.Fatalf("path.Match rejects %q, compileGlob accepts it", p)
			}
			continue
		}
		if err != nil {
			continue // stricter here (reversed ranges)
		}
		for range 4 {
			v := randString(valAlpha, 6)
			want, _ := path.Match(p, v)
			if got := g.match(v); got != want {
				t.Fatalf("glob %q on %q = %v, path.Match says %v", p, v, got, want)
			}
			checked++
		}
	}
	t.Logf("%d pattern/value pairs agreed", checked)
}

func FuzzGlobVsPathMatch(f *testing.F) {
	f.Add("a*b", "axxb")
	f.Add("[^a-c]?*", "d:e")
	f.Add(`\[*\]`, "[x]")
	f.Fuzz(func(t *testing.T, p, v string) {
		// '/' and '!' differ by design. Non-ASCII too: after a '*',
		// path.Match retries byte by byte, so its '?' can match half of a
		// multi-byte character ("*???" matches "먡0"); this glob steps by rune.
		if strings.ContainsAny(p+v, "/!") || !isASCII(p+v) {
			return
		}
		g, err := compileGlob(p)
		_, perr := path.Match(p, "")
		if perr != nil || err != nil {
			if perr != nil && err == nil {
				t.Fatalf("path.Match rejects %q, compileGlob accepts it", p)
			}
			return
		}
		want, _ := path.Match(p, v)
		if got := g.match(v); got != want {
			t.Fatalf("glob %q on %q = %v, path.Match says %v", p, v, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
