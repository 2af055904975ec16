package etvas

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"
)

// verifyCache remembers successful token verifications for a short time, keyed by the
// token's SHA-256 so the token itself is never kept in memory longer than the call. It is
// bounded: the least recently used entry goes first.
type verifyCache struct {
	ttl   time.Duration
	limit int
	clock func() time.Time

	mu    sync.Mutex
	order *list.List // front = most recently used; values are *cacheEntry
	index map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	key     [sha256.Size]byte
	value   Verification
	expires time.Time
}

func newVerifyCache(ttl time.Duration, limit int, clock func() time.Time) *verifyCache {
	return &verifyCache{ttl: ttl, limit: limit, clock: clock, order: list.New(), index: map[[sha256.Size]byte]*list.Element{}}
}

func (c *verifyCache) get(key [sha256.Size]byte) (Verification, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.index[key]
	if !ok {
		return Verification{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.clock().Before(e.expires) {
		c.order.Remove(el)
		delete(c.index, key)
		return Verification{}, false
	}
	c.order.MoveToFront(el)
	return e.value.clone(), true
}

// clone copies the Fields map so a caller changing its result cannot change the cache.
func (v Verification) clone() Verification {
	out := Verification{ContextID: v.ContextID, Fields: make(map[string]json.RawMessage, len(v.Fields))}
	for k, raw := range v.Fields {
		out.Fields[k] = bytes.Clone(raw)
	}
	return out
}

func (c *verifyCache) put(key [sha256.Size]byte, v Verification) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v = v.clone()
	expires := c.clock().Add(c.ttl)
	if el, ok := c.index[key]; ok {
		e := el.Value.(*cacheEntry)
		e.value, e.expires = v, expires
		c.order.MoveToFront(el)
		return
	}
	c.index[key] = c.order.PushFront(&cacheEntry{key: key, value: v, expires: expires})
	for c.order.Len() > c.limit {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.index, oldest.Value.(*cacheEntry).key)
	}
}
