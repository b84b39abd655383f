package docker_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

func TestContainerFromInspect(t *testing.T) {
	started := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		in   container.InspectResponse
		want docker.Container
	}{
		{
			name: "full",
			in: container.InspectResponse{
				ID:    "abc123",
				Name:  "/web-1",
				Image: "sha256:deadbeef",
				Path:  "/docker-entrypoint.sh",
				Args:  []string{"nginx", "-g", "daemon off;"},
				State: &container.State{Running: true, StartedAt: started.Format(time.RFC3339Nano)},
				HostConfig: &container.HostConfig{
					LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m"}},
				},
				Config: &container.Config{
					Image:    "nginx:1.27",
					Hostname: "abc123abc123",
					Labels:   map[string]string{"app": "web", "empty": ""},
					Env:      []string{"PATH=/usr/bin:/bin", "EQ=a=b=c", "EMPTY=", "NOVALUE"},
					Tty:      true,
				},
			},
			want: docker.Container{
				ID: "abc123", Name: "web-1", Image: "nginx:1.27", ImageID: "sha256:deadbeef",
				Hostname: "abc123abc123",
				Labels:   map[string]string{"app": "web", "empty": ""},
				Env:      map[string]string{"PATH": "/usr/bin:/bin", "EQ": "a=b=c", "EMPTY": "", "NOVALUE": ""},
				TTY:      true, Running: true, StartedAt: started, LogDriver: "json-file",
				Command: []string{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"},
			},
		},
		{
			name: "only the leading slash is removed",
			in:   container.InspectResponse{ID: "x", Name: "/web/db"},
			want: docker.Container{ID: "x", Name: "web/db"},
		},
		{
			name: "name without slash",
			in:   container.InspectResponse{ID: "x", Name: "plain"},
			want: docker.Container{ID: "x", Name: "plain"},
		},
		{
			name: "stopped, local driver, no tty",
			in: container.InspectResponse{
				ID: "y", Name: "/job",
				State:      &container.State{Running: false, StartedAt: "2024-01-02T03:04:05Z"},
				HostConfig: &container.HostConfig{LogConfig: container.LogConfig{Type: "local"}},
				Config:     &container.Config{Image: "busybox"},
			},
			want: docker.Container{
				ID: "y", Name: "job", Image: "busybox",
				StartedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), LogDriver: "local",
			},
		},
		{
			name: "never started: Docker's zero time",
			in: container.InspectResponse{
				ID: "z", Name: "/created",
				State: &container.State{StartedAt: "0001-01-01T00:00:00Z"},
			},
			want: docker.Container{ID: "z", Name: "created"},
		},
		{
			name: "unparsable StartedAt",
			in:   container.InspectResponse{ID: "z", State: &container.State{Running: true, StartedAt: "yesterday"}},
			want: docker.Container{ID: "z", Running: true},
		},
		{
			name: "command without arguments",
			in:   container.InspectResponse{ID: "c", Path: "/app", Args: []string{}},
			want: docker.Container{ID: "c", Command: []string{"/app"}},
		},
		{
			name: "nil sections",
			in:   container.InspectResponse{ID: "n", Name: "/n", Image: "sha256:1"},
			want: docker.Container{ID: "n", Name: "n", ImageID: "sha256:1"},
		},
		{
			name: "empty env gives nil map",
			in:   container.InspectResponse{ID: "e", Config: &container.Config{Env: []string{}}},
			want: docker.Container{ID: "e"},
		},
		{
			name: "zero response",
			want: docker.Container{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := docker.ContainerFromInspect(tc.in)
			if !got.StartedAt.Equal(tc.want.StartedAt) || got.StartedAt.IsZero() != tc.want.StartedAt.IsZero() {
				t.Errorf("StartedAt %v, want %v", got.StartedAt, tc.want.StartedAt)
			}
			got.StartedAt, tc.want.StartedAt = time.Time{}, time.Time{}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ContainerFromInspect (-want +got):\n%s", d)
			}
		})
	}
}

func TestContainerFromInspectStartedAtKeepsNanoseconds(t *testing.T) {
	c := docker.ContainerFromInspect(container.InspectResponse{
		State: &container.State{StartedAt: "2025-06-01T10:00:00.000000001Z"},
	})
	if got := c.StartedAt.UnixNano(); got != time.Date(2025, 6, 1, 10, 0, 0, 1, time.UTC).UnixNano() {
		t.Errorf("StartedAt %d: nanoseconds lost", got)
	}
	// Offsets other than Z are honoured.
	c = docker.ContainerFromInspect(container.InspectResponse{
		State: &container.State{StartedAt: "2025-06-01T12:00:00+02:00"},
	})
	if !c.StartedAt.Equal(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("StartedAt %v, want 10:00 UTC", c.StartedAt)
	}
}
