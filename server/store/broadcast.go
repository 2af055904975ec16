package store

import (
	"context"
	"sync"
)

// Broadcaster fans a wake-up signal out to subscribers. Each subscriber has a
// one-slot channel and sends never block, so a slow watcher coalesces many
// commits into one signal and can never stall a committing writer.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	closed bool
}

// NewBroadcaster returns an empty broadcaster.
func NewBroadcaster() *Broadcaster {
	return &Broadcaster{subs: make(map[chan struct{}]struct{})}
}

// Subscribe implements Notifier. The returned cancel is idempotent; ctx
// ending also unsubscribes (the watching goroutine is owned by ctx/cancel).
func (b *Broadcaster) Subscribe(ctx context.Context) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()

	done := make(chan struct{})
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			close(done)
			b.remove(ch)
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-done:
		}
	}()
	return ch, cancel
}

func (b *Broadcaster) remove(ch chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(ch)
	}
}

// Signal wakes every subscriber without blocking.
func (b *Broadcaster) Signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending; coalesce
		}
	}
}

// Close closes every subscriber channel; later Subscribe calls get a closed
// channel, so watchers notice the store went away.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}
