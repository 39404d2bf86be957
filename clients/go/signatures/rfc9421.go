package signatures

import (
	"context"
	"net/http"
	"strings"
	"time"
)

const label = "sig1"

// RFC9421Options are what an rfc9421 receiver accepts; see HTTPSignatureOptions.
type RFC9421Options struct {
	Keys          KeySource
	Account       string
	KeyDomain     string
	AccountHeader string
	// Scheme is the scheme Postbode called (the webhook URL's; https also behind a proxy
	// that terminates TLS), part of the signed @target-uri. Default https.
	Scheme             string
	MaxAge, FutureSkew time.Duration
}

// RFC9421 checks calls signed with rfc9421 (Ed25519). Safe for concurrent use.
type RFC9421 struct {
	o        RFC9421Options
	required []string
}

// NewRFC9421 makes a verifier; zero options take their defaults.
func NewRFC9421(o RFC9421Options) *RFC9421 {
	if o.AccountHeader == "" {
		o.AccountHeader = "X-Postbode-Account"
	}
	if o.Scheme == "" {
		o.Scheme = "https"
	}
	if o.MaxAge == 0 {
		o.MaxAge = 60 * time.Second
	}
	if o.FutureSkew == 0 {
		o.FutureSkew = 10 * time.Second
	}
	account := strings.ToLower(o.AccountHeader)
	return &RFC9421{o, []string{"@method", "@target-uri", "content-digest", "content-type", account}}
}

// VerifyHTTP checks a net/http request (its body is read and put back).
func (v *RFC9421) VerifyHTTP(r *http.Request) (*Verified, error) {
	request, err := FromHTTP(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), request, time.Now())
}

type signatureInput struct {
	label      string
	components []string
	params     map[string]any
	serialized string
}

func readInput(m sfMember) (*signatureInput, error) {
	if !m.isList {
		return nil, malformed("signature-input: %s is not an inner list", m.key)
	}
	in := &signatureInput{label: m.key, params: map[string]any{}, serialized: serializeInnerList(m.list, m.params)}
	for _, item := range m.list {
		name, ok := item.value.(string)
		if !ok {
			return nil, malformed("signature-input: a component is not a string")
		}
		if len(item.params) > 0 {
			return nil, malformed("signature-input: component parameters are not supported")
		}
		if name == "" || name != strings.ToLower(name) {
			return nil, malformed("signature-input: a component name is empty or not lower case")
		}
		if contains(in.components, name) {
			return nil, malformed("signature-input: %s is covered twice", name)
		}
		in.components = append(in.components, name)
	}
	for _, p := range m.params {
		var valid bool
		switch p.key {
		case "created", "expires":
			_, valid = p.value.(int64)
		case "keyid", "alg", "nonce", "tag":
			_, valid = p.value.(string)
		default:
			continue
		}
		if !valid {
			return nil, malformed("signature-input: %s has the wrong type", p.key)
		}
		in.params[p.key] = p.value
	}
	return in, nil
}

// Verify checks request with the receiver's clock at now.
func (v *RFC9421) Verify(ctx context.Context, request Request, now time.Time) (*Verified, error) {
	inputHeader, err := request.required("signature-input")
	if err != nil {
		return nil, err
	}
	signatureHeader, err := request.required("signature")
	if err != nil {
		return nil, err
	}
	members, err := parseDictionary(inputHeader)
	if err != nil {
		return nil, err
	}
	var inputs []*signatureInput
	for _, m := range members {
		in, err := readInput(m)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, in)
	}
	signed, err := parseDictionary(signatureHeader)
	if err != nil {
		return nil, err
	}
	signatures := map[string][]byte{}
	for _, m := range signed {
		var value []byte
		if m.item != nil {
			value, _ = m.item.value.([]byte)
		}
		if value == nil {
			return nil, malformed("signature: %s is not a byte sequence", m.key)
		}
		signatures[m.key] = value
	}
	var chosen *signatureInput
	if len(inputs) == 1 {
		chosen = inputs[0]
	} else {
		for _, in := range inputs {
			if in.label == label {
				chosen = in
			}
		}
	}
	if chosen == nil {
		return nil, malformed("signature-input: no %s member", label)
	}
	signature, ok := signatures[chosen.label]
	if !ok {
		return nil, malformed("signature: no %s member", chosen.label)
	}
	if algorithm, ok := chosen.params["alg"]; ok && algorithm != Ed25519 {
		return nil, malformed("signature-input: alg %v is not %s", algorithm, Ed25519)
	}
	keyID, ok := chosen.params["keyid"].(string)
	if !ok {
		return nil, malformed("signature-input: no keyid")
	}
	created, ok := chosen.params["created"].(int64)
	if !ok {
		return nil, malformed("signature-input: no created")
	}
	for _, name := range v.required {
		if !contains(chosen.components, name) {
			return nil, refuse(NotCovered, "the signature does not cover %s", name)
		}
	}
	if !isUnderDomain(keyID, v.o.KeyDomain) {
		return nil, refuse(UntrustedKeyDomain, "the key %s is not under the trusted key domain", keyID)
	}
	if err := checkAge(time.Unix(created, 0), now, v.o.MaxAge, v.o.FutureSkew); err != nil {
		return nil, err
	}
	if expires, ok := chosen.params["expires"].(int64); ok && !time.Unix(expires, 0).After(now) {
		return nil, refuse(Stale, "the signature expired")
	}
	account, err := request.required(v.o.AccountHeader)
	if err != nil {
		return nil, err
	}
	if account != v.o.Account {
		return nil, refuse(WrongAccount, "the account header names another account")
	}
	digest, err := request.required("content-digest")
	if err != nil {
		return nil, err
	}
	if err := checkContentDigest(digest, request.Body); err != nil {
		return nil, err
	}

	key, err := v.o.Keys.Find(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, refuse(UnknownKey, "no published key has the id %s", keyID)
	}
	if key.Algorithm != Ed25519 {
		return nil, refuse(BadSignature, "the key is not an Ed25519 key")
	}
	base, err := v.signatureBase(request, chosen)
	if err != nil {
		return nil, err
	}
	if !key.verify([]byte(base), signature) {
		return nil, refuse(BadSignature, "the signature does not verify")
	}
	return &Verified{KeyID: keyID, Algorithm: Ed25519, Covered: chosen.components}, nil
}

func checkContentDigest(value string, body []byte) error {
	members, err := parseDictionary(value)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.key != "sha-256" {
			continue
		}
		var received []byte
		if m.item != nil {
			received, _ = m.item.value.([]byte)
		}
		if received == nil {
			return malformed("content-digest: sha-256 is not a byte sequence")
		}
		if !sameDigest(body, received) {
			return refuse(DigestMismatch, "the body does not match its digest")
		}
		return nil
	}
	return malformed("content-digest: no sha-256 member")
}

func (v *RFC9421) signatureBase(request Request, in *signatureInput) (string, error) {
	scheme := strings.ToLower(v.o.Scheme)
	target := request.target()
	path, query, _ := strings.Cut(target, "?")
	lines := make([]string, 0, len(in.components)+1)
	for _, name := range in.components {
		var value string
		var err error
		switch {
		case name == "@method":
			value = request.Method
		case name == "@target-uri":
			var host string
			host, err = request.required("host")
			value = scheme + "://" + host + target
		case name == "@authority":
			value, err = request.required("host")
			value = strings.ToLower(value)
		case name == "@scheme":
			value = scheme
		case name == "@request-target":
			value = target
		case name == "@path":
			value = path
		case name == "@query":
			value = "?" + query
		case strings.HasPrefix(name, "@"):
			return "", malformed("signature-input: unsupported component %s", name)
		default:
			value, err = request.required(name)
		}
		if err != nil {
			return "", err
		}
		if strings.ContainsAny(value, "\r\n") {
			return "", malformed("%s: a line break in the value", name)
		}
		lines = append(lines, `"`+name+`": `+value)
	}
	lines = append(lines, `"@signature-params": `+in.serialized)
	return strings.Join(lines, "\n"), nil
}
