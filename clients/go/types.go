package postbode

import (
	"encoding/json"
	"time"
)

// The shapes the API takes and answers with, each named after (and checked by the tests
// against) its schema in Postbode's OpenAPI document.

// Account is an account (tenant); its ID is what signed calls carry in the account header.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// CreatedAccount is a new account with its first API key, shown once.
type CreatedAccount struct {
	Account
	APIKey string `json:"api_key"`
}

// CreatedKey is a new API key, shown once.
type CreatedKey struct {
	ID     string   `json:"id"`
	APIKey string   `json:"api_key"`
	Name   *string  `json:"name"`
	Scopes []string `json:"scopes"`
}

// KeyOptions name a new key and limit what it may do: "events:write", "webhooks:read",
// "webhooks:write", "data:read", "data:write" or "manage" (everything, the default).
type KeyOptions struct {
	Name   string   `json:"name,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

// APIKeyInfo is an API key as the operator lists it, never its secret.
type APIKeyInfo struct {
	ID         string     `json:"id"`
	Name       *string    `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// RateLimit spaces a webhook's calls evenly.
type RateLimit struct {
	PerSecond int `json:"per_second"`
}

// Batch puts up to MaxEvents deliveries in one call.
type Batch struct {
	MaxEvents int `json:"max_events"`
	MaxWaitMs int `json:"max_wait_ms"`
}

// WebhookSettings are what a user sets on a new webhook; zero values take the defaults.
type WebhookSettings struct {
	URL            string            `json:"url"`
	Description    string            `json:"description,omitempty"`
	Events         []string          `json:"events,omitempty"`
	DatabaseID     string            `json:"database_id,omitempty"`
	CollectionID   string            `json:"collection_id,omitempty"`
	Format         string            `json:"format,omitempty"`
	Condition      string            `json:"condition,omitempty"`
	IgnoreSources  []string          `json:"ignore_sources,omitempty"`
	FieldsChanged  []string          `json:"fields_changed,omitempty"`
	Signatures     []string          `json:"signatures,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
	MaxConcurrency int               `json:"max_concurrency,omitempty"`
	RateLimit      *RateLimit        `json:"rate_limit,omitempty"`
	Batch          *Batch            `json:"batch,omitempty"`
	Ordering       string            `json:"ordering,omitempty"`
	Enabled        *bool             `json:"enabled,omitempty"`
	// SendTraceparent sends the event's W3C traceparent on each call.
	SendTraceparent bool `json:"send_traceparent,omitempty"`
}

// WebhookPatch holds the settings to change; nil fields keep their values. A
// map[string]any works too (to set a setting to null, say).
type WebhookPatch struct {
	URL             *string           `json:"url,omitempty"`
	Description     *string           `json:"description,omitempty"`
	Events          []string          `json:"events,omitempty"`
	DatabaseID      *string           `json:"database_id,omitempty"`
	CollectionID    *string           `json:"collection_id,omitempty"`
	Format          *string           `json:"format,omitempty"`
	Condition       *string           `json:"condition,omitempty"`
	IgnoreSources   []string          `json:"ignore_sources,omitempty"`
	FieldsChanged   []string          `json:"fields_changed,omitempty"`
	Signatures      []string          `json:"signatures,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
	MaxConcurrency  *int              `json:"max_concurrency,omitempty"`
	RateLimit       *RateLimit        `json:"rate_limit,omitempty"`
	Batch           *Batch            `json:"batch,omitempty"`
	Ordering        *string           `json:"ordering,omitempty"`
	Enabled         *bool             `json:"enabled,omitempty"`
	SendTraceparent *bool             `json:"send_traceparent,omitempty"`
}

// Verification is a webhook's URL ownership check (VerificationView).
type Verification struct {
	Status      string     `json:"status"`
	Domain      *string    `json:"domain"`
	FileName    string     `json:"file_name"`
	FileContent string     `json:"file_content"`
	FileURLs    []string   `json:"file_urls"`
	CheckedAt   *time.Time `json:"checked_at"`
	Outcome     *string    `json:"outcome"`
}

// Health is a webhook's failures and pauses, and what the engine does for it (HealthView).
type Health struct {
	FailingSince *time.Time     `json:"failing_since"`
	PausedUntil  *time.Time     `json:"paused_until"`
	PauseReason  *string        `json:"pause_reason"`
	Engine       map[string]any `json:"engine"`
	// Held counts the deliveries waiting while the webhook is disabled.
	Held int `json:"held"`
	// SkippedUnverified24h counts the events of the last 24 hours it did not get
	// because its URL was not verified.
	SkippedUnverified24h int `json:"skipped_unverified_24h"`
}

// Webhook is a webhook (WebhookView); Secret only in the answer to its creation.
type Webhook struct {
	ID              string            `json:"id"`
	URL             string            `json:"url"`
	Description     string            `json:"description"`
	Events          []string          `json:"events"`
	DatabaseID      *string           `json:"database_id"`
	CollectionID    *string           `json:"collection_id"`
	Format          string            `json:"format"`
	Condition       *string           `json:"condition"`
	IgnoreSources   []string          `json:"ignore_sources"`
	FieldsChanged   []string          `json:"fields_changed"`
	Signatures      []string          `json:"signatures"`
	Headers         map[string]string `json:"headers"`
	MaxConcurrency  int               `json:"max_concurrency"`
	RateLimit       *RateLimit        `json:"rate_limit"`
	Batch           *Batch            `json:"batch"`
	Ordering        *string           `json:"ordering"`
	Enabled         bool              `json:"enabled"`
	SendTraceparent bool              `json:"send_traceparent"`
	DisabledReason  *string           `json:"disabled_reason"`
	Secret          string            `json:"secret,omitempty"`
	Verification    Verification      `json:"verification"`
	Health          Health            `json:"health"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// WebhookSecret is a webhook's secret, and the previous one while it still signs (SecretView).
type WebhookSecret struct {
	Secret                  string     `json:"secret"`
	PreviousSecret          *string    `json:"previous_secret"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// RotatedSecret is the new secret; the previous one signs beside it until PreviousSecretExpiresAt.
type RotatedSecret struct {
	Secret                  string    `json:"secret"`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
}

// VerifyResult is the outcome of an ownership check and each URL looked at (VerifyAnswer).
type VerifyResult struct {
	Status  string `json:"status"`
	Checked []struct {
		URL     string `json:"url"`
		Outcome string `json:"outcome"`
	} `json:"checked"`
}

// TestRequest is a test call: Data rendered like an event of Type, or Body sent as typed.
type TestRequest struct {
	Type string `json:"type,omitempty"`
	Data any    `json:"data,omitempty"`
	Body string `json:"body,omitempty"`
}

// TestReport is the receiver's answer to a test call, or why there was none.
type TestReport struct {
	StartedAt       time.Time         `json:"started_at"`
	Request         map[string]any    `json:"request"`
	StatusCode      *int              `json:"status_code"`
	DurationMs      int64             `json:"duration_ms"`
	ResponseHeaders map[string]string `json:"response_headers"`
	ResponseBody    *string           `json:"response_body"`
	Error           *string           `json:"error"`
}

// CheckResult is the outcome of checking every webhook (CheckAnswer).
type CheckResult struct {
	Data []struct {
		WebhookID string `json:"webhook_id"`
		URL       string `json:"url"`
		Action    string `json:"action"`
		OK        bool   `json:"ok"`
		Outcome   string `json:"outcome"`
	} `json:"data"`
}

// Recovered is how many deliveries are due again.
type Recovered struct {
	Deliveries int `json:"deliveries"`
}

// ReplayRequest is what a replay job sends: deliveries of [Since, Until] (zero: now)
// with a listed Status sent again, and ("missing", or no Status) the events of the range
// the webhook never had; EventTypes narrows both.
type ReplayRequest struct {
	Since      time.Time
	Until      time.Time
	Status     []string
	EventTypes []string
}

// ReplayStarted names the job a replay made and how much it matched.
type ReplayStarted struct {
	JobID   string `json:"job_id"`
	Matched int    `json:"matched"`
}

// Job is a replay job and how far it got.
type Job struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	WebhookID string    `json:"webhook_id"`
	Status    string    `json:"status"`
	Done      int       `json:"done"`
	Total     int       `json:"total"`
	Resent    int       `json:"resent"`
	Created   int       `json:"created"`
	Error     *string   `json:"error"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EventRequest is a custom event to send.
type EventRequest struct {
	Type           string `json:"type"`
	Data           any    `json:"data,omitempty"`
	ProfileID      string `json:"profile_id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	OrderingKey    string `json:"ordering_key,omitempty"`
}

// Accepted is an accepted (committed) event and how many deliveries it made.
type Accepted struct {
	ID         string  `json:"id"`
	Deliveries int     `json:"deliveries"`
	Skipped    Skipped `json:"skipped"`
}

// Skipped counts the webhooks that want an event but got nothing going out at once, by
// reason (a reason that did not happen is zero).
type Skipped struct {
	Unverified     int `json:"unverified,omitempty"`
	DisabledHeld   int `json:"disabled_held,omitempty"`
	Condition      int `json:"condition,omitempty"`
	ConditionError int `json:"condition_error,omitempty"`
}

// BatchAccepted lists the ids of a batch's events, with their deliveries and skips summed.
type BatchAccepted struct {
	IDs        []string `json:"ids"`
	Deliveries int      `json:"deliveries"`
	Skipped    Skipped  `json:"skipped"`
}

// Delivery is one event's delivery to one webhook.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	WebhookID      string     `json:"webhook_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode *int       `json:"last_status_code"`
	CreatedAt      time.Time  `json:"created_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

// Event is an event, its canonical JSON body and its deliveries (EventView).
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	CreatedAt  time.Time       `json:"created_at"`
	Body       json.RawMessage `json:"body"`
	Deliveries []Delivery      `json:"deliveries"`
}

// Attempt is one entry of a webhook's attempt log.
type Attempt struct {
	ID           string    `json:"id"`
	DeliveryID   *string   `json:"delivery_id"`
	WebhookID    string    `json:"webhook_id"`
	EventID      *string   `json:"event_id"`
	Number       int       `json:"number"`
	Trigger      string    `json:"trigger"`
	StartedAt    time.Time `json:"started_at"`
	DurationMs   int64     `json:"duration_ms"`
	StatusCode   *int      `json:"status_code"`
	ErrorKind    *string   `json:"error_kind"`
	Error        *string   `json:"error"`
	ResponseBody *string   `json:"response_body"`
}

// StatsBucket is one hour's or day's counts.
type StatsBucket struct {
	Start             time.Time `json:"start"`
	Delivered         int       `json:"delivered"`
	Failed            int       `json:"failed"`
	Skipped           int       `json:"skipped"`
	SkippedUnverified int       `json:"skipped_unverified"`
	ConditionErrors   int       `json:"condition_errors"`
	Held              int       `json:"held"`
	Attempts          int       `json:"attempts"`
	LatencyP50Ms      *int64    `json:"latency_p50_ms"`
	LatencyP99Ms      *int64    `json:"latency_p99_ms"`
}

// Stats are a webhook's statistics per bucket (StatsView).
type Stats struct {
	WebhookID string        `json:"webhook_id"`
	Bucket    string        `json:"bucket"`
	Since     time.Time     `json:"since"`
	Until     time.Time     `json:"until"`
	Data      []StatsBucket `json:"data"`
}

// FieldDef is one typed field of a database or collection.
type FieldDef struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default any    `json:"default,omitempty"`
}

// Definition is what a user sets on a database or collection.
type Definition struct {
	Name        string         `json:"name,omitempty"`
	Fields      []FieldDef     `json:"fields,omitempty"`
	Unsubscribe map[string]any `json:"unsubscribe,omitempty"`
}

// Database holds profiles (DatabaseView).
type Database struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Fields      []FieldDef     `json:"fields"`
	Unsubscribe map[string]any `json:"unsubscribe"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// Collection holds subprofiles (CollectionView).
type Collection struct {
	ID          string         `json:"id"`
	DatabaseID  string         `json:"database_id"`
	Name        string         `json:"name"`
	Fields      []FieldDef     `json:"fields"`
	Unsubscribe map[string]any `json:"unsubscribe"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// ProfileRequest is a profile's fields (and interests) to create, replace or merge.
type ProfileRequest struct {
	Fields    map[string]any `json:"fields"`
	Interests []string       `json:"interests,omitempty"`
}

// Profile is a profile (ProfileView).
type Profile struct {
	ID         string         `json:"id"`
	DatabaseID string         `json:"database_id"`
	Fields     map[string]any `json:"fields"`
	Interests  []string       `json:"interests"`
	Sequence   int64          `json:"sequence"`
	Created    string         `json:"created"`
	Modified   string         `json:"modified"`
}

// Subprofile is a subprofile (SubprofileView).
type Subprofile struct {
	ID           string         `json:"id"`
	ProfileID    string         `json:"profile_id"`
	DatabaseID   string         `json:"database_id"`
	CollectionID string         `json:"collection_id"`
	Fields       map[string]any `json:"fields"`
	Sequence     int64          `json:"sequence"`
	Created      string         `json:"created"`
	Modified     string         `json:"modified"`
}

// Erasure is what erasing a profile removed (ErasureView).
type Erasure struct {
	ProfileID string `json:"profile_id"`
	Erased    struct {
		Events     int `json:"events"`
		Deliveries int `json:"deliveries"`
		Attempts   int `json:"attempts"`
		Messages   int `json:"messages"`
	} `json:"erased"`
}

// ImportSummary is the outcome of an import.
type ImportSummary struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"rejected"`
	RejectedCount int `json:"rejected_count"`
}

// Mailing is the mailing a message belongs to.
type Mailing struct {
	ID   string   `json:"id"`
	Name string   `json:"name,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// MessageRequest registers a sent message.
type MessageRequest struct {
	Mailing      Mailing `json:"mailing"`
	Email        string  `json:"email"`
	ProfileID    string  `json:"profile_id,omitempty"`
	SubprofileID string  `json:"subprofile_id,omitempty"`
}

// Message is a registered message with its open pixel's URL (MessageView).
type Message struct {
	ID      string `json:"id"`
	OpenURL string `json:"open_url"`
}

// Link is a tracked click URL (LinkView).
type Link struct {
	ClickURL string `json:"click_url"`
}

// Report is a delivery report's fields (docs/payloads.md): code, extended, description,
// envelope, mime, state, action, emailfrom, as the report takes them.
type Report map[string]any

// Domain is a validated (or pending) domain (DomainView).
type Domain struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
	Status string `json:"status"`
	Record struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"record"`
	CheckedAt *time.Time `json:"checked_at"`
	Outcome   *string    `json:"outcome"`
	CreatedAt time.Time  `json:"created_at"`
}

// DomainValidation is the outcome of a domain check (ValidationView).
type DomainValidation struct {
	Status    string     `json:"status"`
	CheckedAt *time.Time `json:"checked_at"`
	Outcome   *string    `json:"outcome"`
}

// SigningKeyList is the published signing keys with their DNS records (SigningKeys).
type SigningKeyList struct {
	Data []struct {
		ID          string    `json:"id"`
		Algorithm   string    `json:"algorithm"`
		Selector    string    `json:"selector"`
		KeyID       string    `json:"key_id"`
		State       string    `json:"state"`
		ActivatesAt time.Time `json:"activates_at"`
		RetiresAt   time.Time `json:"retires_at"`
		ExpiresAt   time.Time `json:"expires_at"`
		DNS         struct {
			Name     string `json:"name"`
			Text     string `json:"text"`
			ZoneText string `json:"zone_text"`
		} `json:"dns"`
	} `json:"data"`
	KeyDomain string  `json:"key_domain"`
	Warning   *string `json:"warning"`
}

// KeySet is the public key set receivers verify with.
type KeySet struct {
	Keys []struct {
		KeyID     string `json:"key_id"`
		Algorithm string `json:"algorithm"`
		PublicKey string `json:"public_key"`
		State     string `json:"state"`
		ExpiresAt *int64 `json:"expires_at,omitempty"`
	} `json:"keys"`
}
