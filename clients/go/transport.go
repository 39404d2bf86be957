package postbode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// retryStatuses are answers worth another try: the service asks for patience or a proxy lost it.
var retryStatuses = map[int]bool{429: true, 502: true, 503: true, 504: true}

// idempotentMethods are the methods whose repetition has the effect of one request.
var idempotentMethods = map[string]bool{"GET": true, "HEAD": true, "PUT": true, "DELETE": true}

// request is one call of an operation.
type request struct {
	operation   string
	path        map[string]string
	query       url.Values
	json        any
	body        []byte
	contentType string
	header      map[string]string
	// idempotent: the request carries an idempotency key, so it is safe to repeat.
	idempotent bool
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// transport is the only place that sends requests, builds URLs, reads problem documents
// and waits between attempts.
type transport struct {
	baseURL      string
	token        string
	http         *http.Client
	maxRetries   int
	maxRetryWait time.Duration
}

// call sends the request. It is tried again on 429, 502, 503, 504 and lost connections
// when repeating it is safe: its method is idempotent, or the request carries an
// idempotency key.
func (t *transport) call(ctx context.Context, r request) (*answer, error) {
	op, ok := Operations[r.operation]
	if !ok {
		return nil, fmt.Errorf("postbode: unknown operation %s", r.operation)
	}
	path := op.Path
	for name, value := range r.path {
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(value))
	}
	target := t.baseURL + path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	body, contentType := r.body, r.contentType
	if r.json != nil {
		encoded, err := json.Marshal(r.json)
		if err != nil {
			return nil, fmt.Errorf("postbode: encoding the %s request: %w", r.operation, err)
		}
		body, contentType = encoded, "application/json"
	}
	retry := r.idempotent || idempotentMethods[op.Method]

	for attempt := 0; ; attempt++ {
		got, err := t.send(ctx, op.Method, target, contentType, r.header, body)
		if err != nil {
			if ctx.Err() == nil && retry && attempt < t.maxRetries {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, err
				}
				continue
			}
			return nil, &ConnectionError{Method: op.Method, URL: target, Err: err}
		}
		if got.status >= 200 && got.status < 300 {
			return got, nil
		}
		wait, hasWait := retryAfter(got.header.Get("Retry-After"))
		if retry && retryStatuses[got.status] && attempt < t.maxRetries {
			delay := backoff(attempt)
			if hasWait {
				delay = wait
			}
			if delay <= t.maxRetryWait {
				if err := sleep(ctx, delay); err != nil {
					return nil, err
				}
				continue
			}
		}
		return nil, problem(got, wait, hasWait)
	}
}

func (t *transport) send(ctx context.Context, method, target, contentType string, header map[string]string, body []byte) (*answer, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "postbode-go/"+Version)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for name, value := range header {
		req.Header.Set(name, value)
	}
	res, err := t.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &answer{status: res.StatusCode, header: res.Header, body: data}, nil
}

// json sends the request and decodes the answer into out (unless out is nil).
func (t *transport) json(ctx context.Context, r request, out any) error {
	got, err := t.call(ctx, r)
	if err != nil {
		return err
	}
	if out == nil || len(got.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(got.body, out); err != nil {
		return fmt.Errorf("postbode: decoding the %s answer: %w", r.operation, err)
	}
	return nil
}

func problem(got *answer, wait time.Duration, hasWait bool) error {
	apiErr := &APIError{}
	if json.Unmarshal(got.body, apiErr) != nil || apiErr.Title == "" && apiErr.Type == "" {
		detail := string(got.body)
		if len(detail) > 500 {
			detail = detail[:500]
		}
		apiErr = &APIError{Type: "about:blank", Title: http.StatusText(got.status), Detail: detail}
	}
	apiErr.Status = got.status
	if hasWait {
		seconds := wait.Seconds()
		apiErr.RetryAfter = &seconds
	}
	return apiErr
}

// retryAfter reads Retry-After: a number of seconds or an HTTP date.
func retryAfter(value string) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second, true
	}
	if when, err := http.ParseTime(value); err == nil {
		wait := time.Until(when)
		if wait < 0 {
			wait = 0
		}
		return wait, true
	}
	return 0, false
}

// backoff is exponential with full jitter, so many clients do not come back in step.
func backoff(attempt int) time.Duration {
	ceiling := 500 * time.Millisecond << uint(attempt)
	if ceiling > 8*time.Second {
		ceiling = 8 * time.Second
	}
	return time.Duration((0.5 + rand.Float64()*0.5) * float64(ceiling))
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
