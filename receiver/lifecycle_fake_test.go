package receiver

import (
	"slices"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// TestFakeTTYRunEndingMidLineThenStartedAgain: a TTY container's run ends
// with an unfinished line (a prompt: Docker stores it as a partial message
// and the raw stream puts the next run's message right behind it), then the
// container starts again. The prompt and the next run's first line arrive
// intact, as separate records, and no gap is reported.
func TestFakeTTYRunEndingMidLineThenStartedAgain(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "tty-prompt", Image: "t:1", TTY: true})
	sink := &fakeSink{}
	cfg := fakeCfg(d)
	tt, _ := startReceiver(t, cfg, sink, nil)

	d.WriteLines(id, fakedocker.Stdout, "first run")
	d.Write(id, fakedocker.Entry{Stream: fakedocker.Stdout, Text: []byte("prompt> "), Partial: true})
	d.Stop(id)
	sink.waitBody(t, id, "prompt> ")
	d.Start(id)
	d.WriteLines(id, fakedocker.Stdout, "second run")
	recs := sink.waitBody(t, id, "second run")

	var bodies []string
	for _, r := range sink.of(id) {
		bodies = append(bodies, r.Body)
	}
	if want := []string{"first run", "prompt> ", "second run"}; !slices.Equal(bodies, want) {
		t.Fatalf("records %q, want %q (%d records when the last arrived)", bodies, want, len(recs))
	}
	if g := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""); g != 0 {
		t.Fatalf("%d gaps reported", g)
	}
}
