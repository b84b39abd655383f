package receiver

// Discovery, against the fake daemon: which containers are read (events,
// include/exclude, logging drivers that cannot be read, removal), from where
// (start_at), and under which name (rename).

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

func TestFakeUnsupportedDriverIsCountedOnceAndNotRetried(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	none := running(d, fakedocker.Container{Name: "nolog", Image: "quiet:1", LogDriver: "none"})
	ok := running(d, fakedocker.Container{Name: "ok", Image: "ok:1"})
	okTS := d.WriteLines(ok, fakedocker.Stdout, "from ok")[0]

	cfg := fakeCfg(d)
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, ok, 1)

	// A restart sends die and start events: each makes discovery inspect it.
	inspects := reqs.count(pathIs("/containers/" + none + "/json"))
	d.Stop(none)
	d.Start(none)
	reqs.waitCount(t, "inspect of nolog", inspects+2, pathIs("/containers/"+none+"/json"))
	// Several resyncs list it again.
	lists := reqs.count(pathIs("/containers/json"))
	reqs.waitCount(t, "container list", lists+4, pathIs("/containers/json"))

	ts := d.WriteLines(ok, fakedocker.Stdout, "barrier")[0]
	sink.waitBody(t, ok, "barrier")
	if n := reqs.count(anyLogs(none)); n != 1 {
		t.Errorf("%d /logs requests for the container with driver none, want 1", n)
	}
	if recs := sink.of(none); len(recs) != 0 {
		t.Errorf("records from a container with driver none:\n%s", describe(recs))
	}
	checkRecords(t, sink.of(ok), []want{{stream: "stdout", body: "from ok", ts: okTS}, {stream: "stdout", body: "barrier", ts: ts}})
	checkResource(t, sink.of(ok), ok, "ok", "ok:1")
	if n := counter(t, tt, "dockerlogsrotating_containers_unsupported", "", ""); n != 1 {
		t.Errorf("containers_unsupported = %d, want 1", n)
	}
	if n := counter(t, tt, "dockerlogsrotating_containers_watched", "", ""); n != 1 {
		t.Errorf("containers_watched = %d, want 1 (only ok)", n)
	}
}

func TestFakeStartAtEndSkipsHistoryButReadsNewContainersFromTheirStart(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			old := running(d, fakedocker.Container{Name: "old", Image: "old:1"})
			d.WriteLines(old, fakedocker.Stdout, "old before 1", "old before 2")
			d.WriteLines(old, fakedocker.Stderr, "old before 3")
			// Stopped when the receiver starts; started again later.
			d.AddContainer(fakedocker.Container{Name: "again", Image: "again:1"})
			again := d.ContainerID("again")
			d.Start(again)
			d.WriteLines(again, fakedocker.Stdout, "again run 1")
			d.Stop(again)

			cfg := fakeCfg(d)
			cfg.StartAt = StartAtEnd
			sink := &fakeSink{}
			startReceiver(t, cfg, sink, nil)
			// The follow stream of old is open (or its tail=1 request has
			// read the log): whatever is written now is new.
			ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
			defer cancel()
			must(t, d.WaitLogStreams(ctx, 1))
			must(t, d.WaitEventStreams(ctx, 1))

			var oldWants, newWants, againWants []want
			for _, b := range []string{"old after 1", "old after 2"} {
				ts := d.WriteLines(old, fakedocker.Stdout, b)[0]
				oldWants = append(oldWants, want{stream: "stdout", body: b, ts: ts})
			}
			ts := d.WriteLines(old, fakedocker.Stderr, "old after 3")[0]
			oldWants = append(oldWants, want{stream: "stderr", body: "old after 3", ts: ts})

			newID := running(d, fakedocker.Container{Name: "new", Image: "new:1"})
			for _, b := range []string{"new 1", "new 2"} {
				ts := d.WriteLines(newID, fakedocker.Stdout, b)[0]
				newWants = append(newWants, want{stream: "stdout", body: b, ts: ts})
			}
			d.Start(again)
			ts = d.WriteLines(again, fakedocker.Stdout, "again run 2")[0]
			againWants = append(againWants, want{stream: "stdout", body: "again run 2", ts: ts})

			for _, c := range []struct {
				id, name, image string
				wants           []want
			}{{old, "old", "old:1", oldWants}, {newID, "new", "new:1", newWants}, {again, "again", "again:1", againWants}} {
				ts := d.WriteLines(c.id, fakedocker.Stdout, "barrier")[0]
				got := sink.waitBody(t, c.id, "barrier")
				checkRecords(t, got, append(c.wants, want{stream: "stdout", body: "barrier", ts: ts}))
				checkResource(t, got, c.id, c.name, c.image)
			}
		})
	}
}

func TestFakeDiscoveryFindsContainersStartedLaterThroughEvents(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	cfg := fakeCfg(d)
	cfg.ResyncInterval = time.Hour // only the event stream can find it
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, d.WaitEventStreams(ctx, 1))
	reqs.waitCount(t, "container list", 1, pathIs("/containers/json"))

	id := running(d, fakedocker.Container{Name: "late", Image: "late:2", Labels: map[string]string{"a": "b"}})
	ts := d.WriteLines(id, fakedocker.Stderr, "late line")
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stderr", body: "late line", ts: ts[0]}})
	checkResource(t, got, id, "late", "late:2")

	// A container that runs and exits at once, maybe before discovery
	// inspects it: its lines are read all the same, once.
	d.AddContainer(fakedocker.Container{Name: "brief", Image: "brief:1"})
	brief := d.ContainerID("brief")
	d.Start(brief)
	var wants []want
	for _, b := range []string{"brief 1", "brief 2"} {
		ts := d.WriteLines(brief, fakedocker.Stdout, b)[0]
		wants = append(wants, want{stream: "stdout", body: b, ts: ts})
	}
	d.Stop(brief)
	sink.waitCount(t, brief, 2)
	d.Start(brief)
	bt := d.WriteLines(brief, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: bt})
	got = sink.waitBody(t, brief, "barrier")
	checkRecords(t, got, wants)
	checkResource(t, got, brief, "brief", "brief:1")

	if n := reqs.count(pathIs("/containers/json")); n != 1 {
		t.Errorf("%d container lists; the containers must have been found through events", n)
	}
}

func TestFakeDiscoveryIncludeExcludeSelectContainers(t *testing.T) {
	type ctr struct {
		name, image string
		labels      map[string]string
		in          bool
	}
	tests := []struct {
		name             string
		include, exclude MatchConfig
		ctrs             []ctr
	}{
		{name: "include name glob", include: MatchConfig{Names: []string{"web-*"}},
			ctrs: []ctr{{name: "web-1", in: true}, {name: "db"}, {name: "my-web-1"}}},
		{name: "include name regexp", include: MatchConfig{Names: []string{"/^api-[0-9]+$/"}},
			ctrs: []ctr{{name: "api-12", in: true}, {name: "api-x"}, {name: "xapi-1"}}},
		{name: "include image glob", include: MatchConfig{Images: []string{"nginx:*"}},
			ctrs: []ctr{{name: "a", image: "nginx:1.27", in: true}, {name: "b", image: "nginx"}, {name: "c", image: "redis:7"}}},
		{name: "include image regexp", include: MatchConfig{Images: []string{"/team/"}},
			ctrs: []ctr{{name: "a", image: "registry.local:5000/team/app:v2", in: true}, {name: "b", image: "other/app"}}},
		{name: "include label value", include: MatchConfig{Labels: []string{"env=prod"}},
			ctrs: []ctr{{name: "a", labels: map[string]string{"env": "prod"}, in: true}, {name: "b", labels: map[string]string{"env": "dev"}}, {name: "c"}}},
		{name: "include label key", include: MatchConfig{Labels: []string{"team"}},
			ctrs: []ctr{{name: "a", labels: map[string]string{"team": ""}, in: true}, {name: "b", labels: map[string]string{"teams": "x"}}}},
		{name: "exclude name", exclude: MatchConfig{Names: []string{"*-debug"}},
			ctrs: []ctr{{name: "web", in: true}, {name: "web-debug"}}},
		{name: "exclude image", exclude: MatchConfig{Images: []string{"/busybox/"}},
			ctrs: []ctr{{name: "a", image: "alpine:3", in: true}, {name: "b", image: "busybox:latest"}}},
		{name: "exclude label", exclude: MatchConfig{Labels: []string{"logging=off"}},
			ctrs: []ctr{{name: "a", labels: map[string]string{"logging": "on"}, in: true}, {name: "b", labels: map[string]string{"logging": "off"}}}},
		{name: "exclude wins over include",
			include: MatchConfig{Names: []string{"web-*"}, Labels: []string{"env=prod"}},
			exclude: MatchConfig{Labels: []string{"logging=off"}},
			ctrs: []ctr{
				{name: "web-a", labels: map[string]string{"env": "prod"}, in: true},
				{name: "web-b", labels: map[string]string{"env": "prod", "logging": "off"}},
				{name: "web-c", labels: map[string]string{"env": "dev"}},
				{name: "db", labels: map[string]string{"env": "prod"}},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			reqs := watchRequests(d)
			ids := map[string]string{}
			stamps := map[string]time.Time{}
			for _, c := range tc.ctrs {
				id := running(d, fakedocker.Container{Name: c.name, Image: c.image, Labels: c.labels})
				ids[c.name] = id
				stamps[c.name] = d.WriteLines(id, fakedocker.Stdout, "hello from "+c.name)[0]
			}
			cfg := fakeCfg(d)
			cfg.ResyncInterval = 200 * time.Millisecond
			cfg.Include, cfg.Exclude = tc.include, tc.exclude
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)
			included := 0
			for _, c := range tc.ctrs {
				if c.in {
					included++
					sink.waitCount(t, ids[c.name], 1)
				}
			}
			// The second listing starts after the first one handled every
			// container.
			reqs.waitCount(t, "container list", 2, pathIs("/containers/json"))
			for _, c := range tc.ctrs {
				if c.in {
					continue
				}
				if n := reqs.count(anyLogs(ids[c.name])); n != 0 {
					t.Errorf("%s is not selected but its log was requested %d times", c.name, n)
				}
				if recs := sink.of(ids[c.name]); len(recs) != 0 {
					t.Errorf("%s is not selected but delivered:\n%s", c.name, describe(recs))
				}
			}
			for _, c := range tc.ctrs {
				if !c.in {
					continue
				}
				ts := d.WriteLines(ids[c.name], fakedocker.Stdout, "barrier")[0]
				got := sink.waitBody(t, ids[c.name], "barrier")
				checkRecords(t, got, []want{
					{stream: "stdout", body: "hello from " + c.name, ts: stamps[c.name]},
					{stream: "stdout", body: "barrier", ts: ts}})
				image := c.image
				if image == "" {
					image = "busybox:latest"
				}
				checkResource(t, got, ids[c.name], c.name, image)
			}
			if n := counter(t, tt, "dockerlogsrotating_containers_watched", "", ""); n != int64(included) {
				t.Errorf("containers_watched = %d, want %d", n, included)
			}
		})
	}
}

func TestFakeDiscoveryRenameUpdatesContainerNameOfLaterRecords(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "before", Image: "ren:1"})
	sink := &fakeSink{}
	startReceiver(t, fakeCfg(d), sink, nil)
	d.WriteLines(id, fakedocker.Stdout, "line 0")
	sink.waitCount(t, id, 1)

	d.Rename(id, "after")
	// The rename reaches the follower through the event stream at some
	// point: write one line at a time until a record carries the new name.
	n := 1
	for {
		n++
		body := fmt.Sprintf("line %d", n-1)
		d.WriteLines(id, fakedocker.Stdout, body)
		got := sink.waitBody(t, id, body)
		if got[len(got)-1].Container == "after" {
			break
		}
		if n > 10_000 {
			t.Fatal("the new name never reached the records")
		}
	}
	for i := 0; i < 3; i++ {
		d.WriteLines(id, fakedocker.Stdout, fmt.Sprintf("renamed %d", i))
	}
	got := sink.waitBody(t, id, "renamed 2")
	renamed := false
	for i, r := range got {
		if r.Body != fmt.Sprintf("line %d", i) && i < n {
			t.Errorf("record %d is %q: lost or duplicated", i, r.Body)
		}
		switch {
		case r.Container == "after":
			renamed = true
			checkResource(t, got[i:i+1], id, "after", "ren:1")
		case renamed:
			t.Errorf("record %d (%q) has the old name after one had the new", i, r.Body)
		default:
			checkResource(t, got[i:i+1], id, "before", "ren:1")
		}
	}
	if len(got) != n+3 {
		t.Errorf("%d records, want %d:\n%s", len(got), n+3, describe(got))
	}
}
func TestFakeDiscoveryRemovedContainerFollowerStops(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	id := running(d, fakedocker.Container{Name: "doomed", Image: "doomed:1"})
	keep := running(d, fakedocker.Container{Name: "keep", Image: "keep:1"})
	d.WriteLines(id, fakedocker.Stdout, "last words")
	cfg := fakeCfg(d)
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, id, 1)
	watched := func() int64 { return counter(t, tt, "dockerlogsrotating_containers_watched", "", "") }
	// The second listing starts after the first one upserted both.
	reqs.waitCount(t, "container list", 2, pathIs("/containers/json"))
	if w := watched(); w != 2 {
		t.Fatalf("containers_watched = %d, want 2", w)
	}

	d.Remove(id)
	d.Remove(keep)
	eventually(t, "containers_watched is back to 0", func() bool { return watched() == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, d.WaitLogStreams(ctx, 0))
	// Later listings do not bring it back.
	logs := reqs.count(anyLogs(id))
	lists := reqs.count(pathIs("/containers/json"))
	reqs.waitCount(t, "container list", lists+2, pathIs("/containers/json"))
	if n := reqs.count(anyLogs(id)); n != logs {
		t.Errorf("%d more /logs requests for a removed container", n-logs)
	}
	if w := watched(); w != 0 {
		t.Errorf("containers_watched = %d after removal", w)
	}
	if got := sink.of(id); len(got) != 1 {
		t.Errorf("records of the removed container:\n%s", describe(got))
	}
}
