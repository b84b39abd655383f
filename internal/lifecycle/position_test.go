package lifecycle

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

func ev(ns int64, action, id string, attrs map[string]string) events.Message {
	return events.Message{Type: events.ContainerEventType, Action: events.Action(action), Scope: "local",
		Actor: events.Actor{ID: id, Attributes: attrs}, Time: ns / 1e9, TimeNano: ns}
}

const sec = int64(time.Second)

func TestPositionTellsEventsOfOneNanosecondApart(t *testing.T) {
	var p Position
	t0 := 100 * sec
	kill := ev(t0, "kill", "a", map[string]string{"signal": "9"})
	p.Add(kill)
	for _, other := range []events.Message{
		ev(t0, "die", "a", map[string]string{"exitCode": "137"}), // same time, other action
		ev(t0, "kill", "b", map[string]string{"signal": "9"}),    // other container
		ev(t0, "kill", "a", map[string]string{"signal": "15"}),   // other attributes
		ev(t0+1, "kill", "a", map[string]string{"signal": "9"}),  // other time
	} {
		if p.Has(other) {
			t.Errorf("%s of %s at %d with %v taken for the kill handled", other.Action, other.Actor.ID, other.TimeNano, other.Actor.Attributes)
		}
	}
	if !p.Has(ev(t0, "kill", "a", map[string]string{"signal": "9"})) {
		t.Fatal("the event handled, sent again, is not recognised")
	}
}

func TestPositionSinceTrailsTheNewestEventAndNeverMovesBack(t *testing.T) {
	p := Position{Since: 50 * sec}
	p.Add(ev(10*sec, "start", "a", nil)) // older than the start of the position
	if p.Since != 50*sec {
		t.Fatalf("since moved back to %d", p.Since)
	}
	p.Add(ev(100*sec, "start", "a", nil))
	p.Add(ev(100*sec+sec/2, "die", "a", nil))
	if want := 100*sec + sec/2 - sec; p.Since != want {
		t.Fatalf("since %d, want the newest minus the reorder window, %d", p.Since, want)
	}
	if len(p.Seen) != 2 {
		t.Fatalf("marks %v: want the two events within the window", p.Seen)
	}
	// An event stamped before the newest but within the window, published
	// later (the daemon's history is not strictly in time order), is new.
	late := ev(100*sec+sec/4, "oom", "b", nil)
	if p.Has(late) {
		t.Fatal("an event published after the position is taken as handled")
	}
	p.Add(ev(200*sec, "start", "c", nil))
	if len(p.Seen) != 1 || p.Since != 199*sec {
		t.Fatalf("after an event much later: since %d, marks %v; want 199 s and that one event", p.Since, p.Seen)
	}
}

func TestPositionKeepsTheNewestMarksUpToTheBound(t *testing.T) {
	var p Position
	for i := range maxSeen + 10 {
		p.Add(ev(100*sec+int64(i), "start", "a", nil))
	}
	if len(p.Seen) != maxSeen {
		t.Fatalf("%d marks, want %d", len(p.Seen), maxSeen)
	}
	if p.Has(ev(100*sec, "start", "a", nil)) || !p.Has(ev(100*sec+maxSeen+9, "start", "a", nil)) {
		t.Fatal("the bound dropped other marks than the oldest")
	}
}
