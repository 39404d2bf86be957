package signatures

import (
	"context"
	"net/http"
	"strings"
	"time"
)

const minNonceLen = 16

// HTTPSignatureOptions are what an http-signature receiver accepts.
type HTTPSignatureOptions struct {
	// Keys are where the keys are: NewKeySetURL(...) or NewDNSKeys(...).
	Keys KeySource
	// Account is your account id (acc_..., GET /v1/account), with the operator's
	// account prefix in front if one is set.
	Account string
	// KeyDomain is the key domain you trust: only keys <selector>._domainkey.<KeyDomain>.
	KeyDomain string
	// AccountHeader defaults to X-Postbode-Account.
	AccountHeader string
	// MaxAge is how old Date may be (default 60 s); FutureSkew how far ahead (default 10 s).
	MaxAge, FutureSkew time.Duration
	// Nonces remembers accepted nonces; default a NonceCache of this verifier.
	Nonces NonceStore
}

// HTTPSignature checks calls signed with http-signature. Keep one for the life of the
// process: it remembers the nonces of accepted calls and refuses a replay. Safe for
// concurrent use.
type HTTPSignature struct {
	o        HTTPSignatureOptions
	required []string
}

// NewHTTPSignature makes a verifier; zero options take their defaults.
func NewHTTPSignature(o HTTPSignatureOptions) *HTTPSignature {
	if o.AccountHeader == "" {
		o.AccountHeader = "X-Postbode-Account"
	}
	if o.MaxAge == 0 {
		o.MaxAge = 60 * time.Second
	}
	if o.FutureSkew == 0 {
		o.FutureSkew = 10 * time.Second
	}
	if o.Nonces == nil {
		o.Nonces = NewNonceCache(0)
	}
	account := strings.ToLower(o.AccountHeader)
	return &HTTPSignature{o, []string{"(request-target)", "host", "date", account, "digest", "x-nonce"}}
}

// VerifyHTTP checks a net/http request (its body is read and put back).
func (v *HTTPSignature) VerifyHTTP(r *http.Request) (*Verified, error) {
	request, err := FromHTTP(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), request, time.Now())
}

// Verify checks request with the receiver's clock at now.
func (v *HTTPSignature) Verify(ctx context.Context, request Request, now time.Time) (*Verified, error) {
	header, err := request.required("signature")
	if err != nil {
		return nil, err
	}
	params, err := parseSignatureHeader(header)
	if err != nil {
		return nil, err
	}
	keyID, ok := params["keyid"]
	if !ok {
		return nil, malformed("signature header: no keyId")
	}
	encoded, ok := params["signature"]
	if !ok {
		return nil, malformed("signature header: no signature")
	}
	signature, err := decodeBase64(encoded, "signature header: signature")
	if err != nil {
		return nil, err
	}
	covered := []string{"date"}
	if list, ok := params["headers"]; ok {
		covered = strings.Fields(strings.ToLower(list))
		if len(covered) == 0 {
			return nil, malformed("signature header: headers is empty")
		}
	}
	if algorithm, ok := params["algorithm"]; ok && !strings.EqualFold(algorithm, RSASHA256) {
		return nil, malformed("signature header: algorithm %s is not %s", algorithm, RSASHA256)
	}
	for _, name := range v.required {
		if !contains(covered, name) {
			return nil, refuse(NotCovered, "the signature does not cover %s", name)
		}
	}
	if !isUnderDomain(keyID, v.o.KeyDomain) {
		return nil, refuse(UntrustedKeyDomain, "the key %s is not under the trusted key domain", keyID)
	}
	date, err := request.required("date")
	if err != nil {
		return nil, err
	}
	sent, err := http.ParseTime(date)
	if err != nil {
		return nil, malformed("date: not an HTTP date")
	}
	if err := checkAge(sent, now, v.o.MaxAge, v.o.FutureSkew); err != nil {
		return nil, err
	}
	account, err := request.required(v.o.AccountHeader)
	if err != nil {
		return nil, err
	}
	if account != v.o.Account {
		return nil, refuse(WrongAccount, "the account header names another account")
	}
	digest, err := request.required("digest")
	if err != nil {
		return nil, err
	}
	if err := checkDigest(digest, request.Body); err != nil {
		return nil, err
	}
	nonce, err := request.required("x-nonce")
	if err != nil {
		return nil, err
	}
	if len(nonce) < minNonceLen {
		return nil, malformed("x-nonce: shorter than %d characters", minNonceLen)
	}

	key, err := v.o.Keys.Find(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, refuse(UnknownKey, "no published key has the id %s", keyID)
	}
	if key.Algorithm != RSASHA256 {
		return nil, refuse(BadSignature, "the key is not an RSA key")
	}
	text, err := signingString(request, covered, params)
	if err != nil {
		return nil, err
	}
	if !key.verify([]byte(text), signature) {
		return nil, refuse(BadSignature, "the signature does not verify")
	}
	// Only now: forged calls must not fill the cache.
	if !v.o.Nonces.CheckAndInsert(nonce, now, v.o.MaxAge+v.o.FutureSkew+time.Second) {
		return nil, refuse(ReplayedNonce, "the nonce was already seen: the call is replayed")
	}
	return &Verified{KeyID: keyID, Algorithm: RSASHA256, Covered: covered}, nil
}

func contains(list []string, name string) bool {
	for _, item := range list {
		if item == name {
			return true
		}
	}
	return false
}

// checkDigest checks the sha-256 entry of a Digest value (the algorithm in any case).
func checkDigest(value string, body []byte) error {
	found := ""
	for _, entry := range strings.Split(value, ",") {
		algorithm, encoded, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok {
			return malformed("digest: an entry without =")
		}
		if strings.EqualFold(strings.TrimSpace(algorithm), "sha-256") {
			if found != "" {
				return malformed("digest: two sha-256 entries")
			}
			found = encoded
		}
	}
	if found == "" {
		return malformed("digest: no sha-256 entry")
	}
	received, err := decodeBase64(found, "digest")
	if err != nil {
		return err
	}
	if !sameDigest(body, received) {
		return refuse(DigestMismatch, "the body does not match its digest")
	}
	return nil
}

func signingString(request Request, covered []string, params map[string]string) (string, error) {
	lines := make([]string, 0, len(covered))
	for _, name := range covered {
		var value string
		switch {
		case name == "(request-target)":
			value = strings.ToLower(request.Method) + " " + request.target()
		case name == "(keyid)":
			value = params["keyid"]
		case name == "(algorithm)":
			value = RSASHA256
			if algorithm, ok := params["algorithm"]; ok {
				value = algorithm
			}
		case name == "(created)" || name == "(expires)":
			number, ok := params[name[1:len(name)-1]]
			if !ok {
				return "", malformed("signature: %s is covered but has no parameter", name)
			}
			value = number
		case strings.HasPrefix(name, "("):
			return "", malformed("signature: unsupported pseudo-header %s", name)
		default:
			var err error
			if value, err = request.required(name); err != nil {
				return "", err
			}
		}
		lines = append(lines, name+": "+value)
	}
	return strings.Join(lines, "\n"), nil
}

// parseSignatureHeader reads a Signature header's parameters, names in lower case; a
// repeated parameter refuses the header. "Signature ..." (the Authorization form) is accepted.
func parseSignatureHeader(value string) (map[string]string, error) {
	if len(value) > 8192 {
		return nil, malformed("signature header: too long")
	}
	text := strings.TrimSpace(value)
	if len(text) > 10 && strings.EqualFold(text[:10], "signature ") {
		text = strings.TrimLeft(text[10:], " \t")
	}
	params := map[string]string{}
	pos := 0
	skip := func(chars string) {
		for pos < len(text) && strings.IndexByte(chars, text[pos]) >= 0 {
			pos++
		}
	}
	isToken := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
	}
	for {
		skip(" \t,")
		if pos >= len(text) {
			return params, nil
		}
		start := pos
		for pos < len(text) && isToken(text[pos]) {
			pos++
		}
		if pos == start {
			return nil, malformed("signature header: expected a parameter name")
		}
		name := strings.ToLower(text[start:pos])
		skip(" \t")
		if pos >= len(text) || text[pos] != '=' {
			return nil, malformed("signature header: %s has no value", name)
		}
		pos++
		skip(" \t")
		var param strings.Builder
		if pos < len(text) && text[pos] == '"' {
			pos++
			for {
				if pos >= len(text) {
					return nil, malformed("signature header: unterminated quoted string")
				}
				c := text[pos]
				if c == '"' {
					pos++
					break
				}
				if c == '\\' {
					if pos+1 >= len(text) {
						return nil, malformed("signature header: unterminated quoted string")
					}
					pos++
					c = text[pos]
				}
				if c < 32 && c != '\t' || c == 127 {
					return nil, malformed("signature header: control character")
				}
				param.WriteByte(c)
				pos++
			}
		} else {
			start := pos
			for pos < len(text) && (isToken(text[pos]) || text[pos] == '/' || text[pos] == '=') {
				pos++
			}
			if pos == start {
				return nil, malformed("signature header: %s has no value", name)
			}
			param.WriteString(text[start:pos])
		}
		if _, twice := params[name]; twice {
			return nil, malformed("signature header: %s appears twice", name)
		}
		params[name] = param.String()
		skip(" \t")
		if pos < len(text) && text[pos] != ',' {
			return nil, malformed("signature header: expected a comma")
		}
	}
}
