package signatures_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/clients/go/signatures"
)

// The shared signature vectors (clients/testdata/signature-vectors.json): this library
// reaches the same outcome as Postbode's Rust crate on every case.

type vectorFile struct {
	Policy map[string]any      `json:"policy"`
	KeySet json.RawMessage     `json:"key_set"`
	DNS    map[string][]string `json:"dns"`
	Cases  []struct {
		Name    string         `json:"name"`
		Scheme  string         `json:"scheme"`
		Keys    string         `json:"keys"`
		Secrets []string       `json:"secrets"`
		Policy  map[string]any `json:"policy"`
		Now     int64          `json:"now"`
		Request struct {
			Method  string      `json:"method"`
			Target  string      `json:"target"`
			Headers [][2]string `json:"headers"`
			Body    string      `json:"body"`
		} `json:"request"`
		Expect []string `json:"expect"`
	} `json:"cases"`
}

func readVectors(t *testing.T) vectorFile {
	data, err := os.ReadFile("../../testdata/signature-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	return file
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var refused *signatures.Error
	if errors.As(err, &refused) {
		return refused.Code
	}
	return "error: " + err.Error()
}

func TestEachVectorHasItsExpectedOutcome(t *testing.T) {
	file := readVectors(t)
	if len(file.Cases) < 40 {
		t.Fatalf("only %d cases read", len(file.Cases))
	}
	keySet, err := signatures.ParseKeySet(file.KeySet)
	if err != nil {
		t.Fatal(err)
	}
	fromDNS := signatures.KeyFunc(func(_ context.Context, keyID string) (*signatures.PublicKey, error) {
		texts, ok := file.DNS[keyID]
		if !ok {
			return nil, nil
		}
		return signatures.ParseDKIMRecord(joined(texts))
	})
	for _, c := range file.Cases {
		c := c
		t.Run(c.Name, func(t *testing.T) {
			policy := map[string]any{}
			for k, v := range file.Policy {
				policy[k] = v
			}
			for k, v := range c.Policy {
				policy[k] = v
			}
			var keys signatures.KeySource = keySet
			if c.Keys == "dns" {
				keys = fromDNS
			}
			header := http.Header{}
			for _, pair := range c.Request.Headers {
				header.Add(pair[0], pair[1])
			}
			request := signatures.Request{Method: c.Request.Method, Target: c.Request.Target, Header: header, Body: []byte(c.Request.Body)}
			now := time.Unix(c.Now, 0)
			maxAge := time.Duration(policy["max_age"].(float64)) * time.Second
			var verify func() error
			switch c.Scheme {
			case "standard-webhooks":
				hook, err := signatures.NewStandardWebhooks(c.Secrets...)
				if err != nil {
					t.Fatal(err)
				}
				verify = func() error { return hook.VerifyAt(header, request.Body, now) }
			case "http-signature":
				v := signatures.NewHTTPSignature(signatures.HTTPSignatureOptions{
					Keys: keys, Account: policy["account"].(string), KeyDomain: policy["key_domain"].(string),
					AccountHeader: policy["account_header"].(string), MaxAge: maxAge,
				})
				verify = func() error { _, err := v.Verify(context.Background(), request, now); return err }
			case "rfc9421":
				v := signatures.NewRFC9421(signatures.RFC9421Options{
					Keys: keys, Account: policy["account"].(string), KeyDomain: policy["key_domain"].(string),
					AccountHeader: policy["account_header"].(string), MaxAge: maxAge, Scheme: policy["scheme"].(string),
				})
				verify = func() error { _, err := v.Verify(context.Background(), request, now); return err }
			default:
				t.Fatalf("unknown scheme %s", c.Scheme)
			}
			var got []string
			for range c.Expect {
				got = append(got, outcome(verify()))
			}
			if strings.Join(got, ",") != strings.Join(c.Expect, ",") {
				t.Errorf("got %v, want %v", got, c.Expect)
			}
		})
	}
}

func joined(parts []string) string { return strings.Join(parts, "") }
