package signatures

import (
	"sync"
	"time"
)

// NonceStore remembers the nonces of accepted calls. Several processes behind one URL
// need a shared one (over Redis SET NX EX, say); NonceCache keeps them in memory.
type NonceStore interface {
	// CheckAndInsert records nonce; false when it was seen within the window.
	CheckAndInsert(nonce string, now time.Time, window time.Duration) bool
}

// NonceCache keeps nonces in memory, bounded twice: entries older than the window go,
// and past MaxEntries the oldest go first. Safe for concurrent use.
type NonceCache struct {
	MaxEntries int

	mu    sync.Mutex
	seen  map[string]time.Time
	order []nonceEntry
}

type nonceEntry struct {
	at    time.Time
	nonce string
}

// NewNonceCache keeps at most maxEntries nonces.
func NewNonceCache(maxEntries int) *NonceCache {
	return &NonceCache{MaxEntries: maxEntries}
}

func (c *NonceCache) CheckAndInsert(nonce string, now time.Time, window time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	drop := 0
	for drop < len(c.order) && !c.order[drop].at.After(now.Add(-window)) {
		delete(c.seen, c.order[drop].nonce)
		drop++
	}
	c.order = c.order[drop:]
	if _, found := c.seen[nonce]; found {
		return false
	}
	max := c.MaxEntries
	if max <= 0 {
		max = 100_000
	}
	for len(c.order) >= max {
		delete(c.seen, c.order[0].nonce)
		c.order = c.order[1:]
	}
	c.seen[nonce] = now
	c.order = append(c.order, nonceEntry{now, nonce})
	return true
}
