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
// /proc/self/cgroup, from the files Docker bind-mounts into every container
// (/etc/hostname, /etc/hosts, /etc/resolv.conf come from
// /var/lib/docker/containers/<id>/), and the hostname, which Docker sets to
// the short ID unless told otherwise.
func DetectSelf() SelfID {
	s := SelfID{ids: map[string]bool{}}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		s.addIDs(string(b), func(line string) bool { return strings.Contains(line, "docker") })
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		s.addIDs(string(b), isDockerBindMount)
	}
	if h, err := os.Hostname(); err == nil && len(h) >= 12 && len(h) <= 64 && isHex(h) {
		s.hostname = h
	}
	return s
}

func (s SelfID) addIDs(text string, keep func(line string) bool) {
	for _, line := range strings.Split(text, "\n") {
		if keep(line) {
			for _, id := range containerIDPattern.FindAllString(line, -1) {
				s.ids[id] = true
			}
		}
	}
}

// isDockerBindMount keeps mountinfo lines whose mount point (the fifth
// field) is one of the files Docker provides to the container itself, so a
// host that mounts /var/lib/docker does not mistake others for itself.
func isDockerBindMount(line string) bool {
	f := strings.Fields(line)
	if len(f) < 5 {
		return false
	}
	switch f[4] {
	case "/etc/hostname", "/etc/hosts", "/etc/resolv.conf":
		return strings.Contains(f[3], "containers")
	}
	return false
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

// IsID reports whether id is one of the collector's own container IDs.
func (s SelfID) IsID(id string) bool { return s.ids[id] }
