package discovery

import (
	"strings"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

func TestDockerBindMountsOnly(t *testing.T) {
	own := "1a2b"
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	other := "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	info := "" +
		"800 700 254:1 /var/lib/docker/containers/" + id + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw\n" +
		"801 700 0:50 / /var/lib/docker/containers/" + other + "/mounts/shm rw - tmpfs shm rw\n" +
		"802 700 254:1 /data/" + other + " /data rw - ext4 /dev/vda rw\n"
	s := SelfID{ids: map[string]bool{}}
	s.addIDs(info, isDockerBindMount)
	if !s.ids[id] || s.ids[other] || len(s.ids) != 1 {
		t.Fatalf("ids = %v, want only the container's own (%s)", s.ids, own)
	}
}

func TestSelfIDIs(t *testing.T) {
	id := strings.Repeat("ab", 32)
	s := SelfID{ids: map[string]bool{id: true}}
	if !s.Is(docker.Container{ID: id}) {
		t.Error("a detected ID is not recognised")
	}
	if s.Is(docker.Container{ID: strings.Repeat("cd", 32)}) {
		t.Error("another ID is recognised")
	}
	h := SelfID{hostname: id[:12]}
	if !h.Is(docker.Container{ID: id, Hostname: id[:12]}) {
		t.Error("short-ID hostname not recognised")
	}
	if h.Is(docker.Container{ID: id, Hostname: "custom"}) {
		t.Error("a container with its own hostname is recognised by its ID prefix alone")
	}
	if h.Is(docker.Container{ID: strings.Repeat("cd", 32), Hostname: id[:12]}) {
		t.Error("another container with the same hostname is recognised")
	}
	var zero SelfID
	if zero.Is(docker.Container{ID: id, Hostname: ""}) {
		t.Error("the zero SelfID recognises a container")
	}
	// DetectSelf reads /proc and the hostname; whatever it finds, it must
	// not claim an unrelated container.
	if DetectSelf().Is(docker.Container{ID: strings.Repeat("0", 64), Hostname: "not-hex-host"}) {
		t.Error("DetectSelf claims an unrelated container")
	}
}
