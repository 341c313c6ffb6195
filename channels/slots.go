package channels

// Slots bound how many of something run at once (big uploads being
// received): TryAcquire takes a slot if one is free, without waiting, so
// that a sender past the bound is told to come back later instead of
// holding a connection and a disk stream open. A nil *Slots has no bound.
type Slots struct{ c chan struct{} }

// NewSlots returns n slots; n <= 0 means no bound (nil).
func NewSlots(n int) *Slots {
	if n <= 0 {
		return nil
	}
	return &Slots{c: make(chan struct{}, n)}
}

// TryAcquire takes a slot if one is free.
func (s *Slots) TryAcquire() bool {
	if s == nil {
		return true
	}
	select {
	case s.c <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release frees a slot taken by TryAcquire.
func (s *Slots) Release() {
	if s != nil {
		<-s.c
	}
}
