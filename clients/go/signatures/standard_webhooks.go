package signatures

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const secretPrefix = "whsec_"

// StandardWebhooks checks webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256
// with the webhook's secret).
type StandardWebhooks struct {
	keys      [][]byte
	tolerance time.Duration
}

// NewStandardWebhooks takes the webhook's whsec_... secret; during a rotation pass both,
// the new and the previous one. The timestamp may be 5 minutes from this machine's clock.
func NewStandardWebhooks(secrets ...string) (*StandardWebhooks, error) {
	if len(secrets) == 0 {
		return nil, errors.New("give at least one secret")
	}
	v := &StandardWebhooks{tolerance: 5 * time.Minute}
	for _, secret := range secrets {
		if !strings.HasPrefix(secret, secretPrefix) {
			return nil, errors.New("a Postbode secret starts with whsec_")
		}
		key, err := base64.StdEncoding.Strict().DecodeString(secret[len(secretPrefix):])
		if err != nil || len(key) == 0 {
			return nil, errors.New("the secret is not whsec_ followed by base64")
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// WithTolerance sets how far the timestamp may be from this machine's clock, either way.
func (v *StandardWebhooks) WithTolerance(tolerance time.Duration) *StandardWebhooks {
	v.tolerance = tolerance
	return v
}

// Verify returns nil when the call is genuine, else an *Error.
func (v *StandardWebhooks) Verify(header http.Header, body []byte) error {
	return v.VerifyAt(header, body, time.Now())
}

// VerifyAt is Verify with the receiver's clock at now.
func (v *StandardWebhooks) VerifyAt(header http.Header, body []byte, now time.Time) error {
	request := Request{Header: header}
	id, err := request.required("webhook-id")
	if err != nil {
		return err
	}
	timestamp, err := request.required("webhook-timestamp")
	if err != nil {
		return err
	}
	signatures, err := request.required("webhook-signature")
	if err != nil {
		return err
	}
	sent, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return malformed("the webhook-timestamp header is not Unix seconds")
	}
	skew := now.Sub(time.Unix(sent, 0))
	if skew > v.tolerance || -skew > v.tolerance {
		return refuse(Stale, "the call is %s away from now", skew.Truncate(time.Second))
	}
	for _, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + timestamp + "."))
		mac.Write(body)
		expected := mac.Sum(nil)
		for _, candidate := range strings.Fields(signatures) {
			version, encoded, found := strings.Cut(candidate, ",")
			if !found || version != "v1" {
				continue
			}
			given, err := base64.StdEncoding.Strict().DecodeString(encoded)
			if err == nil && hmac.Equal(expected, given) {
				return nil
			}
		}
	}
	return refuse(BadSignature, "the signature does not verify")
}
