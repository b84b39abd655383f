package discovery

import (
	"os"
	"regexp"
	"strings"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

// SelfID recognises the container the collector runs in, so it never reads
// its own output (a feedback loop when it logs what it reads).
type SelfID struct {
	ids      map[string]bool
	hostname string
}

var containerIDPattern = regexp.MustCompile(`[0-9a-f]{64}`)

// DetectSelf collects candidate IDs of this process's container from
// /proc/self/cgroup and /proc/self/mountinfo (Docker mounts
// /var/lib/docker/containers/<id>/hostname and friends) and the hostname,
// which Docker sets to the short ID unless told otherwise.
func DetectSelf() SelfID {
	s := SelfID{ids: map[string]bool{}}
	for _, f := range []string{"/proc/self/cgroup", "/proc/self/mountinfo"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "docker") && !strings.Contains(line, "containers") {
				continue
			}
			for _, id := range containerIDPattern.FindAllString(line, -1) {
				s.ids[id] = true
			}
		}
	}
	if h, err := os.Hostname(); err == nil && len(h) >= 12 && len(h) <= 64 && isHex(h) {
		s.hostname = h
	}
	return s
}

func isHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// Is reports whether c is the collector's own container.
func (s SelfID) Is(c docker.Container) bool {
	if s.ids[c.ID] {
		return true
	}
	return s.hostname != "" && strings.HasPrefix(c.ID, s.hostname) && c.Hostname == s.hostname
}
