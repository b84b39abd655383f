package decode

// Buffered is the number of bytes read from the stream and not yet decoded.
// Zero means the next Next reads from the stream and may block, so a caller
// that batches should hand its batch on first.
func (r *Reader) Buffered() int { return r.w - r.r }
