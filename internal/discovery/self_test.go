package discovery

import "testing"

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
