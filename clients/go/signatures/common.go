package signatures

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Why a call was refused, in the words every Postbode verifier uses.
const (
	MissingHeader      = "missing_header"
	Malformed          = "malformed"
	NotCovered         = "not_covered"
	UntrustedKeyDomain = "untrusted_key_domain"
	Stale              = "stale"
	WrongAccount       = "wrong_account"
	DigestMismatch     = "digest_mismatch"
	UnknownKey         = "unknown_key"
	BadSignature       = "bad_signature"
	ReplayedNonce      = "replayed_nonce"
)

// Error is a call that must be refused (answer it 401); Code says why.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "postbode signature: " + e.Message }

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *Error { return refuse(Malformed, format, args...) }

// Verified is what a successful check established: the key that signed and what it covered.
type Verified struct {
	KeyID     string
	Algorithm string
	Covered   []string
}

// Request is a call as received.
type Request struct {
	// Method as on the request line, e.g. POST.
	Method string
	// Target is the path and query as requested (r.RequestURI), or the full URL.
	Target string
	// Header holds every header, Host included (net/http keeps it in r.Host).
	Header http.Header
	// Body is the raw body, before any parsing.
	Body []byte
}

// FromHTTP reads r's body (and puts it back, so handlers can read it again) into a Request.
func FromHTTP(r *http.Request) (Request, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return Request{}, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	header := r.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Host") == "" && r.Host != "" {
		header.Set("Host", r.Host)
	}
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	return Request{Method: r.Method, Target: target, Header: header, Body: body}, nil
}

// header is every field of that name, trimmed, joined by ", " in order.
func (r Request) header(name string) (string, bool) {
	var values []string
	for key, vs := range r.Header {
		if strings.EqualFold(strings.TrimSpace(key), name) {
			for _, v := range vs {
				values = append(values, strings.TrimSpace(v))
			}
		}
	}
	if len(values) == 0 {
		return "", false
	}
	return strings.Join(values, ", "), true
}

func (r Request) required(name string) (string, error) {
	value, ok := r.header(name)
	if !ok {
		return "", refuse(MissingHeader, "the %s header is missing", strings.ToLower(name))
	}
	return value, nil
}

// target is the path and query, also of a Target given as a full URL.
func (r Request) target() string {
	at := strings.Index(r.Target, "://")
	if at < 0 {
		return r.Target
	}
	rest := r.Target[at+3:]
	slash := strings.Index(rest, "/")
	if slash < 0 {
		return "/"
	}
	return rest[slash:]
}

func decodeBase64(text, what string) ([]byte, error) {
	decoded, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, malformed("%s is not base64", what)
	}
	return decoded, nil
}

// sameDigest compares the body's SHA-256 with a received one in constant time, so a
// forger learns nothing from timing.
func sameDigest(body, received []byte) bool {
	digest := sha256.Sum256(body)
	return subtle.ConstantTimeCompare(digest[:], received) == 1
}

func checkAge(sent, now time.Time, maxAge, futureSkew time.Duration) error {
	age := now.Sub(sent)
	if age > maxAge {
		return refuse(Stale, "the call is %s old, more than allowed", age.Truncate(time.Second))
	}
	if -age > futureSkew {
		return refuse(Stale, "the call is dated %s in the future", (-age).Truncate(time.Second))
	}
	return nil
}

// isUnderDomain says whether keyID is <selector>._domainkey.<trustedDomain> exactly.
func isUnderDomain(keyID, trustedDomain string) bool {
	lower := strings.ToLower(keyID)
	at := strings.Index(lower, "._domainkey.")
	if at <= 0 {
		return false
	}
	domain := strings.TrimSuffix(lower[at+len("._domainkey."):], ".")
	return domain != "" && domain == strings.TrimSuffix(strings.ToLower(trustedDomain), ".")
}
