package postbode_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	postbode "github.com/postbode/postbode/clients/go"
)

// Retries against the real service behind a proxy that answers the first calls itself
// with 429, 502 or 503 and Retry-After: a fault the service only shows when its disk is
// full, so the proxy stands in for the network between.

type failure struct {
	status     int
	retryAfter string
}

type flakyProxy struct {
	*httptest.Server
	mu       sync.Mutex
	failures []failure
	seen     []time.Time
}

func startProxy(t *testing.T, upstream string, failures ...failure) *flakyProxy {
	target, _ := url.Parse(upstream)
	forward := httputil.NewSingleHostReverseProxy(target)
	p := &flakyProxy{failures: failures}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, time.Now())
		var fail *failure
		if len(p.failures) > 0 {
			fail, p.failures = &p.failures[0], p.failures[1:]
		}
		p.mu.Unlock()
		if fail == nil {
			forward.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", fail.retryAfter)
		w.WriteHeader(fail.status)
		fmt.Fprintf(w, `{"type":"/problems/unavailable","title":"Unavailable","status":%d,"detail":"try later"}`, fail.status)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *flakyProxy) requests() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.seen...)
}

func TestAGetIsRetriedAfterTheRetryAfterItWasGiven(t *testing.T) {
	s := setUp(t, "go retry tests")
	p := startProxy(t, s.url, failure{503, "1"})
	client := postbode.New(s.account.APIKey, postbode.WithBaseURL(p.URL))
	if got := must(client.Accounts.Current(ctx)); got.ID != s.account.ID {
		t.Errorf("account %s", got.ID)
	}
	seen := p.requests()
	if len(seen) != 2 || seen[1].Sub(seen[0]) < time.Second {
		t.Errorf("requests at %v: the retry should wait the Retry-After of 1 s", seen)
	}
}

func TestAnEventWithAnIdempotencyKeyIsRetriedAndSentOnce(t *testing.T) {
	s := setUp(t, "go retry event tests")
	p := startProxy(t, s.url, failure{429, "0"}, failure{502, "0"})
	client := postbode.New(s.account.APIKey, postbode.WithBaseURL(p.URL))
	accepted := must(client.Events.Send(ctx, postbode.EventRequest{Type: "order.retried"}, &postbode.SendOptions{IdempotencyKey: "retry-once"}))
	if n := len(p.requests()); n != 3 {
		t.Errorf("%d requests", n)
	}
	if event := must(s.client.Events.Get(ctx, accepted.ID)); event.Type != "order.retried" {
		t.Errorf("event %+v", event)
	}
}

func TestACreateWithoutAnIdempotencyKeyIsNotRetried(t *testing.T) {
	s := setUp(t, "go no retry tests")
	p := startProxy(t, s.url, failure{503, "0"})
	client := postbode.New(s.account.APIKey, postbode.WithBaseURL(p.URL))
	_, err := client.Events.Send(ctx, postbode.EventRequest{Type: "order.not-retried"}, nil)
	apiErr, ok := err.(*postbode.APIError)
	if !ok || apiErr.Status != 503 || apiErr.RetryAfter == nil || *apiErr.RetryAfter != 0 {
		t.Fatalf("error %v", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

func TestARetryAfterLongerThanAllowedIsNotWaitedFor(t *testing.T) {
	s := setUp(t, "go long retry tests")
	p := startProxy(t, s.url, failure{429, "3600"})
	client := postbode.New(s.account.APIKey, postbode.WithBaseURL(p.URL), postbode.WithRetries(2, 5*time.Second))
	_, err := client.Accounts.Current(ctx)
	apiErr, ok := err.(*postbode.APIError)
	if !ok || apiErr.Status != 429 || apiErr.RetryAfter == nil || *apiErr.RetryAfter != 3600 {
		t.Fatalf("error %v", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

func TestRetriesStopAfterMaxRetries(t *testing.T) {
	s := setUp(t, "go max retry tests")
	p := startProxy(t, s.url, failure{503, "0"}, failure{503, "0"}, failure{503, "0"})
	client := postbode.New(s.account.APIKey, postbode.WithBaseURL(p.URL), postbode.WithRetries(2, time.Minute))
	if _, err := client.Accounts.Current(ctx); err == nil {
		t.Fatal("three 503s were not an error")
	}
	if n := len(p.requests()); n != 3 {
		t.Errorf("%d requests", n)
	}
}
