package dialog

// replayWindow accepts each sequence number at most once and rejects those
// older than the window, as IPsec's and WireGuard's anti-replay filters do.
// Not safe for concurrent use.
type replayWindow struct {
	max    uint64 // highest accepted
	bitmap [windowWords]uint64
}

const (
	windowWords = 16
	// windowSize is how far behind the newest message a late one may arrive.
	windowSize = windowWords * 64
)

// check reports whether seq would be accepted, without recording it.
func (w *replayWindow) check(seq uint64) bool {
	if seq == 0 {
		return false
	}
	if seq > w.max {
		return true
	}
	if w.max-seq >= windowSize {
		return false
	}
	bit := seq % windowSize
	return w.bitmap[bit/64]&(1<<(bit%64)) == 0
}

// accept records seq, which check must have approved.
func (w *replayWindow) accept(seq uint64) {
	if seq > w.max {
		diff := seq - w.max
		if diff >= windowSize {
			w.bitmap = [windowWords]uint64{}
		} else {
			for s := w.max + 1; s <= seq; s++ {
				bit := s % windowSize
				w.bitmap[bit/64] &^= 1 << (bit % 64)
			}
		}
		w.max = seq
	}
	bit := seq % windowSize
	w.bitmap[bit/64] |= 1 << (bit % 64)
}
