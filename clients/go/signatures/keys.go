package signatures

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The algorithms of Postbode's keys.
const (
	RSASHA256 = "rsa-sha256"
	Ed25519   = "ed25519"
)

// PublicKey is one published public key.
type PublicKey struct {
	Algorithm string
	key       crypto.PublicKey
}

// ParsePublicKey reads a DER SubjectPublicKeyInfo of the given algorithm.
func ParsePublicKey(algorithm string, der []byte) (*PublicKey, error) {
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, malformed("the published key is not a public key")
	}
	switch key.(type) {
	case *rsa.PublicKey:
		if algorithm == RSASHA256 {
			return &PublicKey{algorithm, key}, nil
		}
	case ed25519.PublicKey:
		if algorithm == Ed25519 {
			return &PublicKey{algorithm, key}, nil
		}
	}
	return nil, malformed("the published key is not an %s key", algorithm)
}

func (k *PublicKey) verify(message, signature []byte) bool {
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		digest := sha256.Sum256(message)
		return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], signature) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(key, message, signature)
	}
	return false
}

// KeySource finds a published key by its id; nil, nil when there is none.
type KeySource interface {
	Find(ctx context.Context, keyID string) (*PublicKey, error)
}

// KeyFunc is a KeySource made of a function.
type KeyFunc func(ctx context.Context, keyID string) (*PublicKey, error)

func (f KeyFunc) Find(ctx context.Context, keyID string) (*PublicKey, error) { return f(ctx, keyID) }

// KeySet is a parsed key set (GET /.well-known/postbode/keys): the keys by lower-case id.
type KeySet map[string]*PublicKey

// ParseKeySet reads a key set's JSON; keys of algorithms it does not know are skipped.
func ParseKeySet(data []byte) (KeySet, error) {
	var document struct {
		Keys []struct {
			KeyID     string `json:"key_id"`
			Algorithm string `json:"algorithm"`
			PublicKey string `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &document); err != nil {
		return nil, malformed("key set: %v", err)
	}
	keys := KeySet{}
	for _, entry := range document.Keys {
		if entry.Algorithm != RSASHA256 && entry.Algorithm != Ed25519 {
			continue
		}
		der, err := decodeBase64(entry.PublicKey, "the key "+entry.KeyID)
		if err != nil {
			return nil, err
		}
		key, err := ParsePublicKey(entry.Algorithm, der)
		if err != nil {
			return nil, err
		}
		keys[strings.ToLower(entry.KeyID)] = key
	}
	return keys, nil
}

func (s KeySet) Find(_ context.Context, keyID string) (*PublicKey, error) {
	return s[strings.ToLower(keyID)], nil
}

// ParseDKIMRecord reads a DKIM key record (v=DKIM1;k=rsa;p=...); nil, nil when the key
// is revoked (an empty p=).
func ParseDKIMRecord(text string) (*PublicKey, error) {
	tags := map[string]string{}
	for _, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, found := strings.Cut(part, "=")
		if !found {
			return nil, malformed("DKIM record: a tag without =")
		}
		name = strings.TrimSpace(name)
		if _, twice := tags[name]; twice {
			return nil, malformed("DKIM record: duplicate tag %s", name)
		}
		tags[name] = strings.TrimSpace(value)
	}
	if version, ok := tags["v"]; ok && version != "DKIM1" {
		return nil, malformed("DKIM record: v= is not DKIM1")
	}
	encoded, ok := tags["p"]
	if !ok {
		return nil, malformed("DKIM record: no p= tag")
	}
	encoded = strings.Join(strings.Fields(encoded), "")
	if encoded == "" {
		return nil, nil
	}
	raw, err := decodeBase64(encoded, "DKIM record: p=")
	if err != nil {
		return nil, err
	}
	switch kind := tags["k"]; kind {
	case "", "rsa":
		return ParsePublicKey(RSASHA256, raw)
	case "ed25519":
		if len(raw) != ed25519.PublicKeySize {
			return nil, malformed("DKIM record: not an Ed25519 key")
		}
		return &PublicKey{Ed25519, ed25519.PublicKey(raw)}, nil
	default:
		return nil, malformed("DKIM record: unknown key type k=%s", kind)
	}
}

// KeySetURL fetches the key set at url (https://<postbode>/.well-known/postbode/keys)
// when first needed, again after CacheFor, and early when a call names a key it does
// not hold (at most every RefreshEvery, so forged key ids cannot make it hammer the server).
type KeySetURL struct {
	URL          string
	CacheFor     time.Duration // default 1 h
	RefreshEvery time.Duration // default 10 s
	Client       *http.Client  // default one with a 10 s timeout

	mu        sync.Mutex
	keys      KeySet
	fetchedAt time.Time
}

// NewKeySetURL reads the key set at url with the defaults.
func NewKeySetURL(url string) *KeySetURL { return &KeySetURL{URL: url} }

func (k *KeySetURL) Find(ctx context.Context, keyID string) (*PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cacheFor, refreshEvery := k.CacheFor, k.RefreshEvery
	if cacheFor == 0 {
		cacheFor = time.Hour
	}
	if refreshEvery == 0 {
		refreshEvery = 10 * time.Second
	}
	key := k.keys[strings.ToLower(keyID)]
	since := time.Since(k.fetchedAt)
	if k.fetchedAt.IsZero() || since >= cacheFor || (key == nil && since >= refreshEvery) {
		keys, err := k.fetch(ctx)
		if err != nil {
			return nil, err
		}
		k.keys, k.fetchedAt = keys, time.Now()
		key = keys[strings.ToLower(keyID)]
	}
	return key, nil
}

func (k *KeySetURL) fetch(ctx context.Context) (KeySet, error) {
	client := k.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the key set: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the key set %s: HTTP %d", k.URL, res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return ParseKeySet(data)
}

// DNSKeys looks keys up in their DKIM-style TXT records (the key id is the record's
// name), each kept CacheFor (a missing one MissingFor).
type DNSKeys struct {
	// Resolver looks the records up; default net.DefaultResolver. A Resolver with
	// PreferGo and a Dial function asks a server of your choice.
	Resolver   *net.Resolver
	CacheFor   time.Duration // default 1 h
	MissingFor time.Duration // default 10 s

	mu    sync.Mutex
	cache map[string]dnsEntry
}

type dnsEntry struct {
	until time.Time
	key   *PublicKey
}

// NewDNSKeys looks keys up with resolver (nil: the system's).
func NewDNSKeys(resolver *net.Resolver) *DNSKeys { return &DNSKeys{Resolver: resolver} }

func (d *DNSKeys) Find(ctx context.Context, keyID string) (*PublicKey, error) {
	name := strings.TrimSuffix(strings.ToLower(keyID), ".")
	d.mu.Lock()
	if hit, ok := d.cache[name]; ok && time.Now().Before(hit.until) {
		d.mu.Unlock()
		return hit.key, nil
	}
	d.mu.Unlock()
	resolver := d.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	texts, err := resolver.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		texts, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var key *PublicKey
	for _, text := range texts {
		if strings.HasPrefix(text, "v=DKIM1") || strings.Contains(text, "p=") {
			if key, err = ParseDKIMRecord(text); err != nil {
				return nil, err
			}
			break
		}
	}
	lifetime := d.CacheFor
	if lifetime == 0 {
		lifetime = time.Hour
	}
	if key == nil {
		lifetime = d.MissingFor
		if lifetime == 0 {
			lifetime = 10 * time.Second
		}
	}
	d.mu.Lock()
	if d.cache == nil || len(d.cache) > 10_000 {
		d.cache = map[string]dnsEntry{}
	}
	d.cache[name] = dnsEntry{time.Now().Add(lifetime), key}
	d.mu.Unlock()
	return key, nil
}
