// Package streamtest holds readers that benchmarks and allocation tests
// feed to the log decoders.
package streamtest // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/streamtest"

// Repeat returns a reader that repeats data forever and fills every Read
// completely, like a socket that always has a full buffer waiting (the
// backlog case). data must not be empty.
func Repeat(data []byte) *Repeater { return &Repeater{data: data} }

// Repeater is the reader Repeat returns.
type Repeater struct {
	data []byte
	off  int
}

// Read fills p with the next bytes of the repeated data; it never fails.
func (c *Repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.data[c.off:])
		n += k
		c.off = (c.off + k) % len(c.data)
	}
	return n, nil
}
