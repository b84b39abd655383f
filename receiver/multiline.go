package receiver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/match"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// MultilineConfig groups consecutive lines of a stream into one record. The
// settings at its top apply to every container no rule matches; none of
// line_start_pattern, line_end_pattern and mode means no grouping.
type MultilineConfig struct {
	multiline.Config `mapstructure:",squash"`
	// Rules give the containers they match their own settings; the first
	// matching rule wins. A rule without a pattern or mode turns grouping
	// off for its containers.
	Rules []MultilineRule `mapstructure:"rules"`
}

// MultilineRule is one per-container choice.
type MultilineRule struct {
	Match            MatchConfig `mapstructure:"match"`
	multiline.Config `mapstructure:",squash"`
}

// Container labels with which an application's owner sets its grouping;
// they win over the configuration. Flush timeout and line limit stay those
// the configuration gives the container.
const (
	labelLineStart = "dockerlogsrotating.multiline.line_start_pattern"
	labelLineEnd   = "dockerlogsrotating.multiline.line_end_pattern"
	labelMode      = "dockerlogsrotating.multiline.mode" // auto or off
)

func (c MultilineConfig) validate() error {
	var errs []error
	// The errors of Compile start with the key: put its path in front.
	if _, err := c.Config.Compile(); err != nil {
		errs = append(errs, fmt.Errorf("multiline.%w", err))
	}
	for i, r := range c.Rules {
		if _, err := r.Config.Compile(); err != nil {
			errs = append(errs, fmt.Errorf("multiline.rules[%d].%w", i, err))
		}
		if _, err := match.Compile(r.Match.rules(), match.Rules{}); err != nil {
			// Its lines name the key as "include.labels[0]: ...".
			lines := strings.Split(err.Error(), "\n")
			for j, l := range lines {
				lines[j] = fmt.Sprintf("multiline.rules[%d].match.%s", i, strings.TrimPrefix(l, "include."))
			}
			errs = append(errs, errors.New(strings.Join(lines, "\n")))
		}
	}
	return errors.Join(errs...)
}

// multilineChooser picks a container's grouping rules: its labels, else
// the first matching rule, else the default.
type multilineChooser struct {
	def      choice
	rules    []choice
	maxBytes int
	tel      *metadata.TelemetryBuilder
	logger   *zap.Logger

	mu       sync.Mutex
	reported map[string]bool // containers whose bad labels were counted
}

type choice struct {
	m     *match.Matcher // nil for the default
	cfg   multiline.Config
	rules *multiline.Rules
}

// maxReported bounds the memory of containers with bad labels; past it,
// one may be counted and logged again.
const maxReported = 10000

func newMultilineChooser(c MultilineConfig, maxBytes int, tel *metadata.TelemetryBuilder, logger *zap.Logger) (*multilineChooser, error) {
	mc := &multilineChooser{maxBytes: maxBytes, tel: tel, logger: logger, reported: map[string]bool{}}
	compile := func(cfg multiline.Config) (choice, error) {
		cfg.MaxBytes = maxBytes
		r, err := cfg.Compile()
		return choice{cfg: cfg, rules: r}, err
	}
	var err error
	if mc.def, err = compile(c.Config); err != nil {
		return nil, err
	}
	for _, r := range c.Rules {
		ch, err := compile(r.Config)
		if err != nil {
			return nil, err
		}
		if ch.m, err = match.Compile(r.Match.rules(), match.Rules{}); err != nil {
			return nil, err
		}
		mc.rules = append(mc.rules, ch)
	}
	return mc, nil
}

// rulesFor returns c's rules; nil emits each line as a record.
func (mc *multilineChooser) rulesFor(c docker.Container) *multiline.Rules {
	ch := mc.def
	cand := match.Candidate{Name: c.Name, Image: c.Image, Labels: c.Labels}
	for _, r := range mc.rules {
		if r.m.Match(cand) {
			ch = r
			break
		}
	}
	own, set, err := fromLabels(c.Labels, ch.cfg)
	switch {
	case !set:
		return ch.rules
	case err != nil:
		mc.invalid(c, err)
		return nil
	}
	return own
}

// fromLabels reads a container's multiline labels over base; set says
// whether it has any.
func fromLabels(labels map[string]string, base multiline.Config) (r *multiline.Rules, set bool, err error) {
	start, hasStart := labels[labelLineStart]
	end, hasEnd := labels[labelLineEnd]
	mode, hasMode := labels[labelMode]
	if !hasStart && !hasEnd && !hasMode {
		return nil, false, nil
	}
	if hasMode && mode == "off" && !hasStart && !hasEnd {
		return nil, true, nil
	}
	cfg := multiline.Config{LineStartPattern: start, LineEndPattern: end, Mode: mode,
		FlushTimeout: base.FlushTimeout, MaxLines: base.MaxLines, MaxBytes: base.MaxBytes}
	if !cfg.Enabled() {
		return nil, true, errors.New("empty label value")
	}
	r, err = cfg.Compile()
	return r, true, err
}

// invalid counts and logs a container's bad labels once.
func (mc *multilineChooser) invalid(c docker.Container, err error) {
	mc.mu.Lock()
	seen := mc.reported[c.ID]
	if !seen {
		if len(mc.reported) >= maxReported {
			mc.reported = map[string]bool{}
		}
		mc.reported[c.ID] = true
	}
	mc.mu.Unlock()
	if seen {
		return
	}
	mc.tel.DockerlogsrotatingMultilineLabelErrors.Add(context.Background(), 1)
	mc.logger.Warn("invalid multiline labels; this container's lines are not grouped",
		zap.String("container", c.Name), zap.String("container.id", c.ID), zap.Error(err))
}
