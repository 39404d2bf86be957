package postbode

import (
	"context"
	"net/url"
)

// Iter walks every item of a list, fetching page after page as it goes:
//
//	it := client.Webhooks.List(ctx, nil)
//	for it.Next() {
//		webhook := it.Value()
//	}
//	if err := it.Err(); err != nil { ... }
type Iter[T any] struct {
	ctx       context.Context
	transport *transport
	request   request
	page      []T
	index     int
	next      string
	started   bool
	value     T
	err       error
}

func newIter[T any](ctx context.Context, t *transport, r request) *Iter[T] {
	if r.query == nil {
		r.query = url.Values{}
	}
	return &Iter[T]{ctx: ctx, transport: t, request: r}
}

// Next moves to the next item; false at the end of the list or on an error (see Err).
func (it *Iter[T]) Next() bool {
	for it.index >= len(it.page) {
		if it.err != nil || (it.started && it.next == "") {
			return false
		}
		if it.started {
			it.request.query.Set("cursor", it.next)
		}
		var page struct {
			Data       []T     `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if it.err = it.transport.json(it.ctx, it.request, &page); it.err != nil {
			return false
		}
		it.started = true
		it.page, it.index, it.next = page.Data, 0, ""
		if page.NextCursor != nil {
			it.next = *page.NextCursor
		}
	}
	it.value = it.page[it.index]
	it.index++
	return true
}

// Value is the current item.
func (it *Iter[T]) Value() T { return it.value }

// Err is the error that ended the walk, if any.
func (it *Iter[T]) Err() error { return it.err }

// All collects every remaining item.
func (it *Iter[T]) All() ([]T, error) {
	var items []T
	for it.Next() {
		items = append(items, it.Value())
	}
	return items, it.Err()
}
