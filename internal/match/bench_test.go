package match

import "testing"

// benchRules is a realistic config: a handful of globs plus one regexp.
var benchInclude = Rules{
	Names:  []string{"shop-*", "api-*", "*-worker-[0-9]*"},
	Images: []string{"registry.local:5000/*", "postgres:*"},
	Labels: []string{"env=prod", "tier"},
}

var benchExclude = Rules{
	Names:  []string{"*-debug"},
	Labels: []string{"logging=off"},
}

func BenchmarkMatchGlob(b *testing.B) {
	m, err := Compile(benchInclude, benchExclude)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Match(web)
		m.Match(db)
	}
}

func BenchmarkMatchRegex(b *testing.B) {
	m, err := Compile(Rules{Names: []string{`/^shop-(web|db)-\d+$/`}, Images: []string{"/:5000/|^postgres:/"}}, Rules{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Match(web)
		m.Match(db)
	}
}

func BenchmarkGlobGeneral(b *testing.B) {
	g, err := compileGlob("*/shop/*:v?.[0-9]*")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		g.match(web.Image)
	}
}
