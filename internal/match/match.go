// Package match decides which containers the receiver follows, from the
// include and exclude rules of the configuration.
//
// # Selection
//
// A container is selected when
//
//   - for every include list (names, images, labels) that is non-empty, it
//     matches at least one pattern of that list (OR within a list, AND
//     across lists; empty lists do not restrict), and
//   - it matches no pattern of any exclude list (exclude always wins).
//
// With no include patterns at all every container is included. So
// include {names: [web-*, api-*], labels: [env=prod]} selects the prod
// containers named web-* or api-*.
//
// # Patterns
//
// Names and images are matched with a pattern that is either a glob or, when
// written between slashes, a regular expression:
//
//   - "/expr/" is a Go regexp (RE2 syntax) searched anywhere in the value,
//     like grep: "/nginx/" matches "docker.io/library/nginx:1.27". Write
//     "/^...$/" to anchor it. The slashes inside need no escaping.
//   - Anything else is a glob matched against the whole value, like
//     path.Match except that '/' is not special and it steps by rune: '*'
//     matches any run of characters including '/' and ':', '?' matches any
//     one character (rune) including '/'. "[abc]", "[a-z]" and negated
//     "[^a-z]" / "[!a-z]" match one character; inside a class '-' and ']'
//     must be escaped unless '-' forms a range. '\' escapes the next
//     character ("\*" is a literal star). Matching is case-sensitive.
//
// Empty patterns and "//" are errors: "*" says "everything" explicitly.
//
// Names are the container name without Docker's leading slash
// ("myproject-web-1"; names from legacy links contain '/', as in
// "web/db"). A leading '/' in a name glob is dropped, so "/web" copied
// from `docker inspect` still works (but "/web/" is a regexp).
//
// Images are matched against the reference the container was created from,
// exactly as Docker reports it, tag included (the record carries it split
// into container.image.name and container.image.tags):
// "nginx:1.27", "nginx", "registry.local:5000/team/app:v2",
// "app@sha256:…", or an image ID "sha256:…" when the tag has since moved.
// It is not normalized: "nginx:1.27" does not match "docker.io/library/*".
// Useful globs are "nginx", "nginx:*", "registry.local:5000/team/*" and
// "*@sha256:*".
//
// Labels are "key" (the label is present, any value, even empty) or
// "key=pattern" (split at the first '='; the value must match the glob or
// /regexp/ pattern; "key=" matches an empty value). The key itself is
// matched exactly.
package match // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/match"

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Rules is the configuration form of one side (include or exclude).
type Rules struct {
	Names  []string `mapstructure:"names"`
	Images []string `mapstructure:"images"`
	Labels []string `mapstructure:"labels"`
}

// Candidate is what the matcher looks at for one container.
type Candidate struct {
	Name   string // without Docker's leading slash (one is ignored anyway)
	Image  string // reference as Docker reports it, see the package doc
	Labels map[string]string
}

// Matcher is a compiled pair of rule sets. It is immutable and safe for
// concurrent use. A nil *Matcher selects every container.
type Matcher struct {
	include, exclude compiled
}

type compiled struct {
	names, images []pattern
	labels        []labelPattern
}

// pattern is a compiled glob or regexp.
type pattern struct {
	re *regexp.Regexp // nil for a glob
	g  glob
}

func (p *pattern) match(s string) bool {
	if p.re != nil {
		return p.re.MatchString(s)
	}
	return p.g.match(s)
}

type labelPattern struct {
	key     string
	present bool // "key" form: any value
	value   pattern
}

func (l *labelPattern) match(labels map[string]string) bool {
	v, ok := labels[l.key]
	if !ok {
		return false
	}
	return l.present || l.value.match(v)
}

// Compile checks and compiles the rules. Errors name the rule by its config
// path and index, e.g. `include.names[2]: bad regex "/(/": ...`, and all
// bad patterns are reported, not just the first.
func Compile(include, exclude Rules) (*Matcher, error) {
	var errs []error
	m := &Matcher{
		include: compileRules("include", include, &errs),
		exclude: compileRules("exclude", exclude, &errs),
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func compileRules(side string, r Rules, errs *[]error) compiled {
	var c compiled
	for i, raw := range r.Names {
		p, err := compilePattern(raw, true)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s.names[%d]: %w", side, i, err))
			continue
		}
		c.names = append(c.names, p)
	}
	for i, raw := range r.Images {
		p, err := compilePattern(raw, false)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s.images[%d]: %w", side, i, err))
			continue
		}
		c.images = append(c.images, p)
	}
	for i, raw := range r.Labels {
		l, err := compileLabel(raw)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s.labels[%d]: %w", side, i, err))
			continue
		}
		c.labels = append(c.labels, l)
	}
	return c
}

func isRegex(raw string) bool {
	return len(raw) >= 2 && raw[0] == '/' && raw[len(raw)-1] == '/'
}

// compilePattern compiles one name, image or label-value pattern. isName
// drops a leading '/' from globs, since Docker shows names as "/name".
func compilePattern(raw string, isName bool) (pattern, error) {
	if raw == "" {
		return pattern{}, errors.New("empty pattern (use \"*\" to match everything)")
	}
	if isRegex(raw) {
		expr := raw[1 : len(raw)-1]
		if expr == "" {
			return pattern{}, fmt.Errorf("empty regex %q (use \"*\" to match everything)", raw)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return pattern{}, fmt.Errorf("bad regex %q: %w", raw, err)
		}
		return pattern{re: re}, nil
	}
	src := raw
	if isName {
		src = strings.TrimPrefix(raw, "/")
		if src == "" {
			return pattern{}, fmt.Errorf("empty name pattern %q", raw)
		}
	}
	g, err := compileGlob(src)
	if err != nil {
		return pattern{}, fmt.Errorf("bad glob %q: %w", raw, err)
	}
	return pattern{g: g}, nil
}

func compileLabel(raw string) (labelPattern, error) {
	key, value, hasValue := strings.Cut(raw, "=")
	if key == "" {
		return labelPattern{}, fmt.Errorf("empty label key in %q", raw)
	}
	if !hasValue {
		return labelPattern{key: key, present: true}, nil
	}
	if value == "" {
		// "key=": the label is set to the empty string.
		return labelPattern{key: key, value: pattern{g: glob{kind: globExact}}}, nil
	}
	p, err := compilePattern(value, false)
	if err != nil {
		return labelPattern{}, fmt.Errorf("label %q: %w", key, err)
	}
	return labelPattern{key: key, value: p}, nil
}

// Match reports whether the container is selected (see the package doc).
func (m *Matcher) Match(c Candidate) bool {
	if m == nil {
		return true
	}
	name := strings.TrimPrefix(c.Name, "/")
	// Exclude first: it wins anyway and is usually the shorter list.
	if anyPattern(m.exclude.names, name) ||
		anyPattern(m.exclude.images, c.Image) ||
		anyLabel(m.exclude.labels, c.Labels) {
		return false
	}
	in := &m.include
	return (len(in.names) == 0 || anyPattern(in.names, name)) &&
		(len(in.images) == 0 || anyPattern(in.images, c.Image)) &&
		(len(in.labels) == 0 || anyLabel(in.labels, c.Labels))
}

func anyPattern(ps []pattern, s string) bool {
	for i := range ps {
		if ps[i].match(s) {
			return true
		}
	}
	return false
}

func anyLabel(ls []labelPattern, labels map[string]string) bool {
	for i := range ls {
		if ls[i].match(labels) {
			return true
		}
	}
	return false
}
