package streamtest

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRepeatFillsEveryReadWithTheDataInTurn(t *testing.T) {
	r := Repeat([]byte("abc"))
	p := make([]byte, 7)
	if n, err := r.Read(p); n != 7 || err != nil || string(p) != "abcabca" {
		t.Fatalf("Read = %d, %v, %q", n, err, p)
	}
	if n, _ := r.Read(p[:2]); n != 2 || string(p[:2]) != "bc" {
		t.Fatalf("second Read = %q", p[:2])
	}
}
