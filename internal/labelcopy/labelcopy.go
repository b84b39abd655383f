// Package labelcopy decides which container labels are copied to
// container.label.<key> resource attributes.
//
// A label is copied when its key matches at least one include pattern and
// no exclude pattern. Patterns have the syntax of the receiver's include
// and exclude rules (package match): a glob matched against the whole key
// ('*' matches any run of characters, dots included), or a Go regular
// expression written /like this/ and searched anywhere in the key. With no
// include pattern nothing is copied.
package labelcopy // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/labelcopy"

import (
	"errors"
	"fmt"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/match"
)

// AttributePrefix is the semantic-convention template for container
// labels: the label key follows it unchanged.
const AttributePrefix = "container.label."

// Selector is a compiled pair of include and exclude patterns. It is
// immutable and safe for concurrent use; a nil Selector copies nothing.
type Selector struct {
	m *match.Matcher
}

// Compile checks every pattern and names a bad one by its config path,
// e.g. `labels.exclude[1]: bad regex "/(/": ...`. It returns a nil
// Selector when include is empty.
func Compile(include, exclude []string) (*Selector, error) {
	var errs []error
	check := func(side string, patterns []string) {
		for i, p := range patterns {
			if _, err := match.Compile(match.Rules{Images: []string{p}}, match.Rules{}); err != nil {
				errs = append(errs, fmt.Errorf("labels.%s[%d]: %w", side, i, patternError(err)))
			}
		}
	}
	check("include", include)
	check("exclude", exclude)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(include) == 0 {
		return nil, nil
	}
	m, err := match.Compile(match.Rules{Images: include}, match.Rules{Images: exclude})
	if err != nil { // checked above, pattern by pattern
		return nil, err
	}
	return &Selector{m: m}, nil
}

// patternError strips match's own "include.images[0]: " prefix from the
// error of a single pattern, leaving what is wrong with it.
func patternError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) == 1 {
		if inner := errors.Unwrap(j.Unwrap()[0]); inner != nil {
			return inner
		}
	}
	return err
}

// Selected reports whether the label key is copied.
func (s *Selector) Selected(key string) bool {
	return s != nil && s.m.Match(match.Candidate{Image: key})
}

// Each calls f with the key, the attribute name (AttributePrefix+key) and
// the value of every selected label.
func (s *Selector) Each(labels map[string]string, f func(key, attr, value string)) {
	if s == nil {
		return
	}
	for k, v := range labels {
		if s.Selected(k) {
			f(k, AttributePrefix+k, v)
		}
	}
}
