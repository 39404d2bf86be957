package postbode_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	postbode "github.com/postbode/postbode/clients/go"
)

// What the tests share: the running service (started by clients/test.sh), an account on
// it, and a real HTTP receiver on 127.0.0.1 that records every call.

type service struct {
	url      string
	operator *postbode.Client
	account  *postbode.CreatedAccount
	client   *postbode.Client
}

func setUp(t *testing.T, name string) *service {
	t.Helper()
	url := os.Getenv("POSTBODE_TEST_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("POSTBODE_TEST_URL is not set: run bash clients/test.sh")
		}
		t.Skip("no running service: run bash clients/test.sh")
	}
	operator := postbode.New(os.Getenv("POSTBODE_TEST_ADMIN_TOKEN"), postbode.WithBaseURL(url))
	account, err := operator.Accounts.Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	client := postbode.New(account.APIKey, postbode.WithBaseURL(url))
	return &service{url, operator, account, client}
}

type call struct {
	Method, Target string
	Header         http.Header
	Body           []byte
}

// receiver answers each POST with the next of statuses (then 200) and serves files to GET.
type receiver struct {
	*httptest.Server
	URL      string
	mu       sync.Mutex
	calls    []call
	statuses []int
	files    map[string]string
}

func startReceiver(t *testing.T) *receiver {
	r := &receiver{files: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method == http.MethodGet {
			content, ok := r.files[req.URL.Path]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
			}
			_, _ = w.Write([]byte(content))
			return
		}
		header := req.Header.Clone()
		header.Set("Host", req.Host)
		r.calls = append(r.calls, call{req.Method, req.RequestURI, header, body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		w.WriteHeader(status)
	}))
	r.URL = r.Server.URL + "/hooks/receive.php"
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setStatuses(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = statuses
}

func (r *receiver) serve(path, content string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[path] = content
}

func (r *receiver) waitFor(t *testing.T, count int) []call {
	t.Helper()
	var calls []call
	eventually(t, "calls at the receiver", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		calls = append([]call(nil), r.calls...)
		return len(calls) >= count
	})
	return calls
}

// eventually polls check until it holds (a hang guard, not a speed test).
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// must ends the test (by a panic, which go test reports with its stack) on an error.
func must[T any](value T, err error) T {
	if err != nil {
		panic(err)
	}
	return value
}

func contains(haystack, needle string) bool { return strings.Contains(haystack, needle) }
