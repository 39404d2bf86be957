package postbode_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	postbode "github.com/postbode/postbode/clients/go"
	"github.com/postbode/postbode/clients/go/signatures"
)

// Each verifier accepts the service's real calls, in every format and with the keys from
// the key set or from DNS, and refuses them once anything is changed.

var formats = []string{"json", "form", "xml"}
var schemes = []string{"http-signature", "rfc9421"}

type sentCalls struct {
	account string
	calls   map[string]call
	hooks   map[string]*postbode.Webhook
	keySet  signatures.KeySource
	dns     signatures.KeySource
}

func sendSignedCalls(t *testing.T) *sentCalls {
	s := setUp(t, "go receiving tests")
	r := startReceiver(t)
	sent := &sentCalls{account: s.account.ID, calls: map[string]call{}, hooks: map[string]*postbode.Webhook{}}
	for _, format := range formats {
		for _, scheme := range schemes {
			settings := postbode.WebhookSettings{
				URL:    fmt.Sprintf("%s?format=%s&scheme=%s", r.URL, format, scheme),
				Events: []string{"order.signed"}, Format: format, Signatures: []string{"standard-webhooks", scheme},
			}
			sent.hooks[format+" "+scheme] = must(s.client.Webhooks.Create(ctx, settings))
		}
	}
	event := postbode.EventRequest{Type: "order.signed", Data: map[string]any{"order": 42, "paid": true, "tags": []string{"a", "b"}}}
	must(s.client.Events.Send(ctx, event, nil))
	for _, c := range r.waitFor(t, len(sent.hooks)) {
		query, _ := url.ParseQuery(strings.SplitN(c.Target, "?", 2)[1])
		sent.calls[query.Get("format")+" "+query.Get("scheme")] = c
	}
	sent.keySet = signatures.NewKeySetURL(s.url + "/.well-known/postbode/keys")
	server := os.Getenv("POSTBODE_TEST_DNS")
	sent.dns = signatures.NewDNSKeys(&net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	})
	return sent
}

func request(c call) signatures.Request {
	return signatures.Request{Method: c.Method, Target: c.Target, Header: c.Header.Clone(), Body: c.Body}
}

func verify(scheme string, keys signatures.KeySource, account string, req signatures.Request, now time.Time) error {
	domain := os.Getenv("POSTBODE_TEST_KEY_DOMAIN")
	var err error
	if scheme == "http-signature" {
		v := signatures.NewHTTPSignature(signatures.HTTPSignatureOptions{Keys: keys, Account: account, KeyDomain: domain})
		_, err = v.Verify(ctx, req, now)
	} else {
		// The receiver is reached at http://127.0.0.1: the scheme Postbode called is signed.
		v := signatures.NewRFC9421(signatures.RFC9421Options{Keys: keys, Account: account, KeyDomain: domain, Scheme: "http"})
		_, err = v.Verify(ctx, req, now)
	}
	return err
}

func code(err error) string {
	var refused *signatures.Error
	if errors.As(err, &refused) {
		return refused.Code
	}
	return fmt.Sprintf("not refused: %v", err)
}

func TestRealCalls(t *testing.T) {
	sent := sendSignedCalls(t)

	for _, format := range formats {
		for _, scheme := range schemes {
			format, scheme := format, scheme
			t.Run(format+" "+scheme+" verifies with the key set, DNS and standard-webhooks", func(t *testing.T) {
				c := sent.calls[format+" "+scheme]
				if err := verify(scheme, sent.keySet, sent.account, request(c), time.Now()); err != nil {
					t.Errorf("key set: %v", err)
				}
				if err := verify(scheme, sent.dns, sent.account, request(c), time.Now()); err != nil {
					t.Errorf("dns: %v", err)
				}
				hook := must(signatures.NewStandardWebhooks(sent.hooks[format+" "+scheme].Secret))
				if err := hook.Verify(c.Header, c.Body); err != nil {
					t.Errorf("standard-webhooks: %v", err)
				}
			})
		}
	}

	for _, scheme := range schemes {
		scheme := scheme
		t.Run(scheme+" refuses a changed body, header, an old call, a wrong key and another account", func(t *testing.T) {
			c := sent.calls["json "+scheme]
			changed := request(c)
			changed.Body = []byte(strings.Replace(string(c.Body), `"order":42`, `"order":43`, 1))
			if got := code(verify(scheme, sent.keySet, sent.account, changed, time.Now())); got != signatures.DigestMismatch {
				t.Errorf("changed body: %s", got)
			}
			retyped := request(c)
			retyped.Header.Set("Content-Type", "text/plain")
			if got := code(verify(scheme, sent.keySet, sent.account, retyped, time.Now())); got != signatures.BadSignature {
				t.Errorf("changed header: %s", got)
			}
			if got := code(verify(scheme, sent.keySet, sent.account, request(c), time.Now().Add(2*time.Minute))); got != signatures.Stale {
				t.Errorf("old call: %s", got)
			}
			if got := code(verify(scheme, wrongKey(t, scheme), sent.account, request(c), time.Now())); got != signatures.BadSignature {
				t.Errorf("wrong key: %s", got)
			}
			if got := code(verify(scheme, sent.keySet, "acc_someone_else", request(c), time.Now())); got != signatures.WrongAccount {
				t.Errorf("another account: %s", got)
			}
		})
	}

	t.Run("a replayed call is refused", func(t *testing.T) {
		c := sent.calls["form http-signature"]
		v := signatures.NewHTTPSignature(signatures.HTTPSignatureOptions{Keys: sent.keySet, Account: sent.account, KeyDomain: os.Getenv("POSTBODE_TEST_KEY_DOMAIN")})
		if _, err := v.Verify(ctx, request(c), time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, request(c), time.Now()); code(err) != signatures.ReplayedNonce {
			t.Errorf("replay: %v", err)
		}
	})

	t.Run("standard-webhooks refuses a changed body, id, an old timestamp and another secret", func(t *testing.T) {
		c := sent.calls["xml rfc9421"]
		hook := must(signatures.NewStandardWebhooks(sent.hooks["xml rfc9421"].Secret))
		if got := code(hook.Verify(c.Header, append(append([]byte(nil), c.Body...), ' '))); got != signatures.BadSignature {
			t.Errorf("changed body: %s", got)
		}
		otherID := c.Header.Clone()
		otherID.Set("webhook-id", "dlv_other")
		if got := code(hook.Verify(otherID, c.Body)); got != signatures.BadSignature {
			t.Errorf("changed id: %s", got)
		}
		sentAt, _ := strconv.ParseInt(c.Header.Get("webhook-timestamp"), 10, 64)
		if got := code(hook.VerifyAt(c.Header, c.Body, time.Unix(sentAt+301, 0))); got != signatures.Stale {
			t.Errorf("old timestamp: %s", got)
		}
		other := must(signatures.NewStandardWebhooks(sent.hooks["json rfc9421"].Secret))
		if got := code(other.Verify(c.Header, c.Body)); got != signatures.BadSignature {
			t.Errorf("another secret: %s", got)
		}
	})

	t.Run("a net/http handler verifies the call as it arrives", func(t *testing.T) {
		c := sent.calls["json http-signature"]
		v := signatures.NewHTTPSignature(signatures.HTTPSignatureOptions{Keys: sent.keySet, Account: sent.account, KeyDomain: os.Getenv("POSTBODE_TEST_KEY_DOMAIN")})
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := v.VerifyHTTP(r); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		replay := httptest.NewRequest(c.Method, c.Target, strings.NewReader(string(c.Body)))
		replay.Host = c.Header.Get("Host")
		for name, values := range c.Header {
			replay.Header[name] = values
		}
		replay.Header.Del("Host")
		answer := httptest.NewRecorder()
		handler.ServeHTTP(answer, replay)
		if answer.Code != http.StatusNoContent {
			t.Errorf("answered %d: %s", answer.Code, answer.Body)
		}
	})
}

// wrongKey finds every key id as the shared vectors' key of the scheme's algorithm.
func wrongKey(t *testing.T, scheme string) signatures.KeySource {
	data, err := os.ReadFile("../testdata/signature-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		KeySet json.RawMessage `json:"key_set"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	keys := must(signatures.ParseKeySet(file.KeySet))
	algorithm := map[string]string{"http-signature": signatures.RSASHA256, "rfc9421": signatures.Ed25519}[scheme]
	return signatures.KeyFunc(func(context.Context, string) (*signatures.PublicKey, error) {
		for _, key := range keys {
			if key.Algorithm == algorithm {
				return key, nil
			}
		}
		return nil, nil
	})
}
