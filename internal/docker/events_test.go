package docker_test

import (
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

func TestSinceKeepsEveryNanosecond(t *testing.T) {
	for ns, want := range map[int64]string{
		1:                   "0.000000001",
		1e9:                 "1.000000000",
		1700000000123456789: "1700000000.123456789",
		1700000000000000010: "1700000000.000000010",
	} {
		if got := docker.Since(ns); got != want {
			t.Errorf("Since(%d) = %q, want %q", ns, got, want)
		}
	}
}
