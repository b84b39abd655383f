package match

import (
	"strings"
	"testing"
	"unicode/utf8"

	gobwas "github.com/gobwas/glob"
)

// gobwasComparable reports whether p uses only syntax both matchers read
// the same way: gobwas also has {a,b} alternatives, and negates a class
// with '!' only, where '^' negates here too. Two gobwas v0.2.3 faults are
// left out as well: a NUL in the pattern ("ab\x00*" matches "abx") and a
// non-ASCII character in a class ("a[é]b" does not match "aéb").
func gobwasComparable(p string) bool {
	if strings.ContainsAny(p, "{},^\x00") {
		return false
	}
	return !strings.Contains(p, "[") || isASCII(p)
}

// FuzzGlobVsGobwas compares this glob with github.com/gobwas/glob (no
// separators, so '*' crosses '/' in both) on the patterns both accept. Where
// they disagree, a naive backtracking matcher over the same tokens decides:
// this glob must agree with it; gobwas is known not to (v0.2.3: "a*a"
// matches "a", its prefix and suffix overlap), which is why it is not used.
func FuzzGlobVsGobwas(f *testing.F) {
	f.Add("a*b", "axxb")
	f.Add("[!a-c]?*", "d:e")
	f.Add(`\[*\]`, "[x]")
	f.Add("*???", "먡01")
	f.Add("a*a", "a")
	f.Add("registry.local:5000/*", "registry.local:5000/team/app:v2")
	f.Add("*-worker-[0-9]*", "shop-worker-12")
	f.Fuzz(func(t *testing.T, p, v string) {
		// gobwas compiles long patterns slowly (1,000 '?' take 0.4 s), and
		// the naive matcher backtracks on many stars: keep both small.
		if !gobwasComparable(p) || len(p) > 256 || len(v) > 64 || strings.Count(p, "*") > 8 {
			return
		}
		g, err := compileGlob(p)
		gw, gerr := gobwas.Compile(p)
		if err != nil || gerr != nil {
			return
		}
		got, other := g.match(v), gw.Match(v)
		if got == other {
			return
		}
		if want := naiveMatch(g, v); got != want {
			t.Fatalf("glob %q on %q = %v, gobwas and the naive matcher say %v", p, v, got, want)
		}
	})
}

// naiveMatch matches s against g's tokens by plain backtracking.
func naiveMatch(g glob, s string) bool {
	var items []*token // nil: a star
	for i, c := range g.chunks {
		if i > 0 {
			items = append(items, nil)
		}
		for j := range c {
			items = append(items, &c[j])
		}
	}
	var rec func(items []*token, s string) bool
	rec = func(items []*token, s string) bool {
		if len(items) == 0 {
			return s == ""
		}
		if items[0] == nil {
			for i := 0; ; {
				if rec(items[1:], s[i:]) {
					return true
				}
				if i == len(s) {
					return false
				}
				_, n := utf8.DecodeRuneInString(s[i:])
				i += n
			}
		}
		rest, ok := matchChunk([]token{*items[0]}, s)
		return ok && rec(items[1:], rest)
	}
	return rec(items, s)
}

// gobwasPatterns are typical container-name and image patterns.
var gobwasPatterns = []string{"shop-*", "*-debug", "*-worker-[0-9]*", "registry.local:5000/*", "*/shop/*:v?.[0-9]*", "nginx"}

var gobwasValues = []string{"shop-web-1", "shop-worker-12", "postgres", "registry.local:5000/shop/app:v1.2", "nginx", "docker.io/library/nginx:1.27-debug"}

// BenchmarkGlobVsGobwas matches every value against each pattern.
func BenchmarkGlobVsGobwas(b *testing.B) {
	for _, p := range gobwasPatterns {
		g, err := compileGlob(p)
		if err != nil {
			b.Fatal(err)
		}
		gw := gobwas.MustCompile(p)
		b.Run("ours/"+p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, v := range gobwasValues {
					g.match(v)
				}
			}
		})
		b.Run("gobwas/"+p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, v := range gobwasValues {
					gw.Match(v)
				}
			}
		})
	}
}
