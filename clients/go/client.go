package postbode

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a Postbode service; its resources are its fields
// (client.Webhooks.Create(...)). Safe for concurrent use.
type Client struct {
	Events      *Events
	Deliveries  *Deliveries
	Webhooks    *Webhooks
	Databases   *Databases
	Collections *Collections
	Profiles    *Profiles
	Subprofiles *Subprofiles
	Messages    *Messages
	Domains     *Domains
	Accounts    *Accounts
	SigningKeys *SigningKeys
}

// Option changes how a Client talks to the service.
type Option func(*transport)

// WithBaseURL sets the service's address (default http://127.0.0.1:8080).
func WithBaseURL(baseURL string) Option {
	return func(t *transport) { t.baseURL = strings.TrimRight(baseURL, "/") }
}

// WithHTTPClient sets the HTTP client (default one with a 30 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(t *transport) { t.http = c } }

// WithRetries sets how often a call that is safe to repeat is tried again (default 2),
// and the longest Retry-After waited for (default 60 s).
func WithRetries(maxRetries int, maxRetryWait time.Duration) Option {
	return func(t *transport) { t.maxRetries, t.maxRetryWait = maxRetries, maxRetryWait }
}

// New makes a client. token is an account's API key (pb_...), or the operator token for
// accounts and signing keys. Calls that are safe to repeat (GET, PUT, DELETE, and events
// sent with an idempotency key) are retried on 429, 502, 503, 504 and lost connections,
// after the Retry-After the service gives or an exponential back-off.
func New(token string, options ...Option) *Client {
	t := &transport{
		baseURL:      "http://127.0.0.1:8080",
		token:        token,
		http:         &http.Client{Timeout: 30 * time.Second},
		maxRetries:   2,
		maxRetryWait: 60 * time.Second,
	}
	for _, option := range options {
		option(t)
	}
	r := resource{t}
	return &Client{
		Events: &Events{r}, Deliveries: &Deliveries{r}, Webhooks: &Webhooks{r},
		Databases: &Databases{r}, Collections: &Collections{r}, Profiles: &Profiles{r},
		Subprofiles: &Subprofiles{r}, Messages: &Messages{r}, Domains: &Domains{r},
		Accounts: &Accounts{r}, SigningKeys: &SigningKeys{r},
	}
}

type resource struct{ t *transport }

func id(value string) map[string]string { return map[string]string{"id": value} }

// decode calls the operation and decodes its answer into a new T.
func decode[T any](ctx context.Context, r resource, req request) (*T, error) {
	out := new(T)
	if err := r.t.json(ctx, req, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (r resource) none(ctx context.Context, req request) error {
	_, err := r.t.call(ctx, req)
	return err
}

// ListOptions pages a list (Limit: the page size, 1 to 500).
type ListOptions struct{ Limit int }

func (o *ListOptions) query() url.Values {
	q := url.Values{}
	if o != nil && o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

func setTime(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

// Events sends events and reads them back.
type Events struct{ resource }

// SendOptions: IdempotencyKey is sent as Idempotency-Key; a repeat within 24 h answers
// the first event again, which also makes the call safe to retry.
type SendOptions struct{ IdempotencyKey string }

// Send sends one event (202: committed).
func (e *Events) Send(ctx context.Context, event EventRequest, options *SendOptions) (*Accepted, error) {
	req := request{operation: "createEvent", json: event, idempotent: event.IdempotencyKey != ""}
	if options != nil && options.IdempotencyKey != "" {
		req.header = map[string]string{"Idempotency-Key": options.IdempotencyKey}
		req.idempotent = true
	}
	return decode[Accepted](ctx, e.resource, req)
}

// SendBatch sends up to 1000 events, all or nothing; retried only when each carries an IdempotencyKey.
func (e *Events) SendBatch(ctx context.Context, events []EventRequest) (*BatchAccepted, error) {
	keyed := true
	for _, event := range events {
		keyed = keyed && event.IdempotencyKey != ""
	}
	body := map[string]any{"events": events}
	return decode[BatchAccepted](ctx, e.resource, request{operation: "createEventBatch", json: body, idempotent: keyed})
}

// Get reads an event, its canonical body and its deliveries.
func (e *Events) Get(ctx context.Context, eventID string) (*Event, error) {
	return decode[Event](ctx, e.resource, request{operation: "getEvent", path: id(eventID)})
}

// Deliveries reads and resends deliveries.
type Deliveries struct{ resource }

func (d *Deliveries) Get(ctx context.Context, deliveryID string) (*Delivery, error) {
	return decode[Delivery](ctx, d.resource, request{operation: "getDelivery", path: id(deliveryID)})
}

// Resend makes one more attempt now, with the same delivery id.
func (d *Deliveries) Resend(ctx context.Context, deliveryID string) (*Delivery, error) {
	return decode[Delivery](ctx, d.resource, request{operation: "resendDelivery", path: id(deliveryID)})
}

// Webhooks manages webhooks, their checks and their log.
type Webhooks struct{ resource }

// Create creates a webhook; the answer holds its Secret, shown once.
func (w *Webhooks) Create(ctx context.Context, settings WebhookSettings) (*Webhook, error) {
	return decode[Webhook](ctx, w.resource, request{operation: "createWebhook", json: settings})
}

// WebhookListOptions filters the list to webhooks scoped to a database or collection.
type WebhookListOptions struct {
	DatabaseID, CollectionID string
	Limit                    int
}

// List walks every webhook of the account, oldest first.
func (w *Webhooks) List(ctx context.Context, options *WebhookListOptions) *Iter[Webhook] {
	q := url.Values{}
	if options != nil {
		q = (&ListOptions{options.Limit}).query()
		if options.DatabaseID != "" {
			q.Set("database_id", options.DatabaseID)
		}
		if options.CollectionID != "" {
			q.Set("collection_id", options.CollectionID)
		}
	}
	return newIter[Webhook](ctx, w.t, request{operation: "listWebhooks", query: q})
}

func (w *Webhooks) Get(ctx context.Context, webhookID string) (*Webhook, error) {
	return decode[Webhook](ctx, w.resource, request{operation: "getWebhook", path: id(webhookID)})
}

// Update merges patch (a WebhookPatch, or a map) into the settings; the result is checked as a whole.
func (w *Webhooks) Update(ctx context.Context, webhookID string, patch any) (*Webhook, error) {
	return decode[Webhook](ctx, w.resource, request{operation: "updateWebhook", path: id(webhookID), json: patch})
}

func (w *Webhooks) Delete(ctx context.Context, webhookID string) error {
	return w.none(ctx, request{operation: "deleteWebhook", path: id(webhookID)})
}

// Secret reads the webhook's secret, and the previous one while it still signs.
func (w *Webhooks) Secret(ctx context.Context, webhookID string) (*WebhookSecret, error) {
	return decode[WebhookSecret](ctx, w.resource, request{operation: "getWebhookSecret", path: id(webhookID)})
}

// RotateSecret makes a new secret; the previous one keeps signing beside it for a day.
func (w *Webhooks) RotateSecret(ctx context.Context, webhookID string) (*RotatedSecret, error) {
	return decode[RotatedSecret](ctx, w.resource, request{operation: "rotateWebhookSecret", path: id(webhookID)})
}

// VerificationFile is the ownership file's content, to place next to the callback script.
func (w *Webhooks) VerificationFile(ctx context.Context, webhookID string) (string, error) {
	got, err := w.t.call(ctx, request{operation: "getVerificationFile", path: id(webhookID)})
	if err != nil {
		return "", err
	}
	return string(got.body), nil
}

// Verify fetches the ownership file now.
func (w *Webhooks) Verify(ctx context.Context, webhookID string) (*VerifyResult, error) {
	return decode[VerifyResult](ctx, w.resource, request{operation: "verifyWebhook", path: id(webhookID)})
}

// Test makes one real, signed call now.
func (w *Webhooks) Test(ctx context.Context, webhookID string, test TestRequest) (*TestReport, error) {
	return decode[TestReport](ctx, w.resource, request{operation: "testWebhook", path: id(webhookID), json: test})
}

// CheckAll makes a test call to every verified webhook and checks the others' ownership again.
func (w *Webhooks) CheckAll(ctx context.Context) (*CheckResult, error) {
	return decode[CheckResult](ctx, w.resource, request{operation: "checkWebhooks"})
}

// Recover sends again every failed (or backing-off) delivery created from since up to until (zero: now).
func (w *Webhooks) Recover(ctx context.Context, webhookID string, since, until time.Time) (*Recovered, error) {
	body := map[string]any{"since": since.UTC().Format(time.RFC3339Nano)}
	if !until.IsZero() {
		body["until"] = until.UTC().Format(time.RFC3339Nano)
	}
	return decode[Recovered](ctx, w.resource, request{operation: "recoverWebhook", path: id(webhookID), json: body})
}

// Replay starts a replay job (see ReplayRequest); follow it with Job.
func (w *Webhooks) Replay(ctx context.Context, webhookID string, replay ReplayRequest) (*ReplayStarted, error) {
	body := map[string]any{"since": replay.Since.UTC().Format(time.RFC3339Nano)}
	if !replay.Until.IsZero() {
		body["until"] = replay.Until.UTC().Format(time.RFC3339Nano)
	}
	if replay.Status != nil {
		body["status"] = replay.Status
	}
	if replay.EventTypes != nil {
		body["event_types"] = replay.EventTypes
	}
	return decode[ReplayStarted](ctx, w.resource, request{operation: "replayWebhook", path: id(webhookID), json: body})
}

// Job is a replay job's progress: Status, Done of Total.
func (w *Webhooks) Job(ctx context.Context, jobID string) (*Job, error) {
	return decode[Job](ctx, w.resource, request{operation: "getReplayJob", path: id(jobID)})
}

// DeliveryFilter narrows a webhook's deliveries; zero fields do not filter.
type DeliveryFilter struct {
	Status, EventType string
	Since, Until      time.Time
	Limit             int
}

// Deliveries walks the webhook's deliveries, newest first.
func (w *Webhooks) Deliveries(ctx context.Context, webhookID string, filter *DeliveryFilter) *Iter[Delivery] {
	q := url.Values{}
	if filter != nil {
		q = (&ListOptions{filter.Limit}).query()
		if filter.Status != "" {
			q.Set("status", filter.Status)
		}
		if filter.EventType != "" {
			q.Set("event_type", filter.EventType)
		}
		setTime(q, "since", filter.Since)
		setTime(q, "until", filter.Until)
	}
	return newIter[Delivery](ctx, w.t, request{operation: "listWebhookDeliveries", path: id(webhookID), query: q})
}

// AttemptFilter narrows the attempt log (Status: succeeded or failed); zero fields do not filter.
type AttemptFilter struct {
	Status       string
	Since, Until time.Time
	Limit        int
}

func (f *AttemptFilter) query() url.Values {
	if f == nil {
		return url.Values{}
	}
	q := (&ListOptions{f.Limit}).query()
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	setTime(q, "since", f.Since)
	setTime(q, "until", f.Until)
	return q
}

// Attempts walks the attempt log, newest first.
func (w *Webhooks) Attempts(ctx context.Context, webhookID string, filter *AttemptFilter) *Iter[Attempt] {
	return newIter[Attempt](ctx, w.t, request{operation: "listAttempts", path: id(webhookID), query: filter.query()})
}

// ExportAttempts is the whole (filtered) attempt log as csv or jsonl text.
func (w *Webhooks) ExportAttempts(ctx context.Context, webhookID, format string, filter *AttemptFilter) (string, error) {
	q := filter.query()
	q.Del("limit")
	q.Set("format", format)
	got, err := w.t.call(ctx, request{operation: "listAttempts", path: id(webhookID), query: q})
	if err != nil {
		return "", err
	}
	return string(got.body), nil
}

// StatsOptions chooses the range (default the last 24 h) and the bucket (hour or day).
type StatsOptions struct {
	Since, Until time.Time
	Bucket       string
}

// Stats reads delivered, failed, skipped and latency per bucket.
func (w *Webhooks) Stats(ctx context.Context, webhookID string, options *StatsOptions) (*Stats, error) {
	q := url.Values{}
	if options != nil {
		setTime(q, "since", options.Since)
		setTime(q, "until", options.Until)
		if options.Bucket != "" {
			q.Set("bucket", options.Bucket)
		}
	}
	return decode[Stats](ctx, w.resource, request{operation: "getWebhookStats", path: id(webhookID), query: q})
}

// Databases manages databases of profiles.
type Databases struct{ resource }

func (d *Databases) Create(ctx context.Context, definition Definition) (*Database, error) {
	return decode[Database](ctx, d.resource, request{operation: "createDatabase", json: definition})
}

func (d *Databases) List(ctx context.Context, options *ListOptions) *Iter[Database] {
	return newIter[Database](ctx, d.t, request{operation: "listDatabases", query: options.query()})
}

func (d *Databases) Get(ctx context.Context, databaseID string) (*Database, error) {
	return decode[Database](ctx, d.resource, request{operation: "getDatabase", path: id(databaseID)})
}

// Update merges the given parts of definition (empty ones keep their values).
func (d *Databases) Update(ctx context.Context, databaseID string, definition Definition) (*Database, error) {
	return decode[Database](ctx, d.resource, request{operation: "updateDatabase", path: id(databaseID), json: definition})
}

// Delete deletes the database with its collections and profiles (no events fire).
func (d *Databases) Delete(ctx context.Context, databaseID string) error {
	return d.none(ctx, request{operation: "deleteDatabase", path: id(databaseID)})
}

// ImportProfiles imports CSV (a header row; contentType text/csv) or application/x-ndjson;
// with key, a row that matches a profile on that field updates it. Not retried: send it
// again yourself with a key, which changes nothing the first import did.
func (d *Databases) ImportProfiles(ctx context.Context, databaseID string, data []byte, contentType, key string) (*ImportSummary, error) {
	q := url.Values{}
	if key != "" {
		q.Set("key", key)
	}
	req := request{operation: "importProfiles", path: id(databaseID), query: q, body: data, contentType: contentType}
	return decode[ImportSummary](ctx, d.resource, req)
}

// Collections manages a database's collections of subprofiles.
type Collections struct{ resource }

func (c *Collections) Create(ctx context.Context, databaseID string, definition Definition) (*Collection, error) {
	return decode[Collection](ctx, c.resource, request{operation: "createCollection", path: id(databaseID), json: definition})
}

func (c *Collections) List(ctx context.Context, databaseID string, options *ListOptions) *Iter[Collection] {
	return newIter[Collection](ctx, c.t, request{operation: "listCollections", path: id(databaseID), query: options.query()})
}

func (c *Collections) Get(ctx context.Context, collectionID string) (*Collection, error) {
	return decode[Collection](ctx, c.resource, request{operation: "getCollection", path: id(collectionID)})
}

func (c *Collections) Update(ctx context.Context, collectionID string, definition Definition) (*Collection, error) {
	return decode[Collection](ctx, c.resource, request{operation: "updateCollection", path: id(collectionID), json: definition})
}

func (c *Collections) Delete(ctx context.Context, collectionID string) error {
	return c.none(ctx, request{operation: "deleteCollection", path: id(collectionID)})
}

// Profiles manages profiles; each change sends its create, update or delete event.
type Profiles struct{ resource }

func (p *Profiles) Create(ctx context.Context, databaseID string, profile ProfileRequest) (*Profile, error) {
	return decode[Profile](ctx, p.resource, request{operation: "createProfile", path: id(databaseID), json: profile})
}

// ProfileListOptions filters on one field (Where: {"email": "piet@example.com"}).
type ProfileListOptions struct {
	Where map[string]string
	Limit int
}

func (p *Profiles) List(ctx context.Context, databaseID string, options *ProfileListOptions) *Iter[Profile] {
	q := url.Values{}
	if options != nil {
		q = (&ListOptions{options.Limit}).query()
		for name, value := range options.Where {
			q.Set("fields."+name, value)
		}
	}
	return newIter[Profile](ctx, p.t, request{operation: "listProfiles", path: id(databaseID), query: q})
}

func (p *Profiles) Get(ctx context.Context, profileID string) (*Profile, error) {
	return decode[Profile](ctx, p.resource, request{operation: "getProfile", path: id(profileID)})
}

// Replace replaces the fields (those not given are cleared).
func (p *Profiles) Replace(ctx context.Context, profileID string, profile ProfileRequest) (*Profile, error) {
	return decode[Profile](ctx, p.resource, request{operation: "replaceProfile", path: id(profileID), json: profile})
}

// Update merges the fields; a change that changes nothing fires nothing.
func (p *Profiles) Update(ctx context.Context, profileID string, profile ProfileRequest) (*Profile, error) {
	return decode[Profile](ctx, p.resource, request{operation: "updateProfile", path: id(profileID), json: profile})
}

// Delete deletes the profile and its subprofiles, each with a delete event.
func (p *Profiles) Delete(ctx context.Context, profileID string) error {
	return p.none(ctx, request{operation: "deleteProfile", path: id(profileID)})
}

// Erase deletes the profile and everything stored about it: events, deliveries, attempts, messages.
func (p *Profiles) Erase(ctx context.Context, profileID string) (*Erasure, error) {
	q := url.Values{"erase": {"true"}}
	return decode[Erasure](ctx, p.resource, request{operation: "deleteProfile", path: id(profileID), query: q})
}

// Subprofiles manages a profile's subprofiles.
type Subprofiles struct{ resource }

func (s *Subprofiles) Create(ctx context.Context, profileID, collectionID string, fields map[string]any) (*Subprofile, error) {
	body := map[string]any{"collection_id": collectionID, "fields": fields}
	return decode[Subprofile](ctx, s.resource, request{operation: "createSubprofile", path: id(profileID), json: body})
}

func (s *Subprofiles) List(ctx context.Context, profileID string, options *ListOptions) *Iter[Subprofile] {
	return newIter[Subprofile](ctx, s.t, request{operation: "listSubprofiles", path: id(profileID), query: options.query()})
}

func (s *Subprofiles) Get(ctx context.Context, subprofileID string) (*Subprofile, error) {
	return decode[Subprofile](ctx, s.resource, request{operation: "getSubprofile", path: id(subprofileID)})
}

func (s *Subprofiles) Replace(ctx context.Context, subprofileID string, fields map[string]any) (*Subprofile, error) {
	body := map[string]any{"fields": fields}
	return decode[Subprofile](ctx, s.resource, request{operation: "replaceSubprofile", path: id(subprofileID), json: body})
}

func (s *Subprofiles) Update(ctx context.Context, subprofileID string, fields map[string]any) (*Subprofile, error) {
	body := map[string]any{"fields": fields}
	return decode[Subprofile](ctx, s.resource, request{operation: "updateSubprofile", path: id(subprofileID), json: body})
}

func (s *Subprofiles) Delete(ctx context.Context, subprofileID string) error {
	return s.none(ctx, request{operation: "deleteSubprofile", path: id(subprofileID)})
}

// Messages registers sent messages and reports what happened to them.
type Messages struct{ resource }

// Create registers a sent message; the answer has the open pixel's URL.
func (m *Messages) Create(ctx context.Context, message MessageRequest) (*Message, error) {
	return decode[Message](ctx, m.resource, request{operation: "createMessage", json: message})
}

// Link makes a tracked click URL for target, to put in the e-mail.
func (m *Messages) Link(ctx context.Context, messageID, target string) (*Link, error) {
	body := map[string]string{"url": target}
	return decode[Link](ctx, m.resource, request{operation: "createMessageLink", path: id(messageID), json: body})
}

// ReportDelivery reports a delivery: code, extended, description.
func (m *Messages) ReportDelivery(ctx context.Context, messageID string, report Report) (*Accepted, error) {
	return m.report(ctx, "reportDelivery", messageID, report)
}

// ReportBounce reports a bounce: envelope, mime.
func (m *Messages) ReportBounce(ctx context.Context, messageID string, report Report) (*Accepted, error) {
	return m.report(ctx, "reportBounce", messageID, report)
}

// ReportFailure reports a failure: state (connect, mail, rcpt, data, bounce), code, action, extended, description.
func (m *Messages) ReportFailure(ctx context.Context, messageID string, report Report) (*Accepted, error) {
	return m.report(ctx, "reportFailure", messageID, report)
}

// ReportAbuse reports a complaint: emailfrom, mime.
func (m *Messages) ReportAbuse(ctx context.Context, messageID string, report Report) (*Accepted, error) {
	return m.report(ctx, "reportAbuse", messageID, report)
}

// ReportUnsubscribe reports an unsubscribe; it also applies the database's and collection's behaviour.
func (m *Messages) ReportUnsubscribe(ctx context.Context, messageID string) (*Accepted, error) {
	return m.report(ctx, "reportUnsubscribe", messageID, Report{})
}

func (m *Messages) report(ctx context.Context, operation, messageID string, report Report) (*Accepted, error) {
	if report == nil {
		report = Report{}
	}
	return decode[Accepted](ctx, m.resource, request{operation: operation, path: id(messageID), json: report})
}

// Domains manages validated domains.
type Domains struct{ resource }

// Create adds a domain; its Record is the TXT record to publish.
func (d *Domains) Create(ctx context.Context, domain string) (*Domain, error) {
	body := map[string]string{"domain": domain}
	return decode[Domain](ctx, d.resource, request{operation: "createDomain", json: body})
}

func (d *Domains) List(ctx context.Context, options *ListOptions) *Iter[Domain] {
	return newIter[Domain](ctx, d.t, request{operation: "listDomains", query: options.query()})
}

func (d *Domains) Get(ctx context.Context, domainID string) (*Domain, error) {
	return decode[Domain](ctx, d.resource, request{operation: "getDomain", path: id(domainID)})
}

func (d *Domains) Delete(ctx context.Context, domainID string) error {
	return d.none(ctx, request{operation: "deleteDomain", path: id(domainID)})
}

// Validate looks the TXT record up now.
func (d *Domains) Validate(ctx context.Context, domainID string) (*DomainValidation, error) {
	return decode[DomainValidation](ctx, d.resource, request{operation: "validateDomain", path: id(domainID)})
}

// Accounts reads the key's account; with the operator token, manages accounts and keys.
type Accounts struct{ resource }

// Current is the account the API key belongs to.
func (a *Accounts) Current(ctx context.Context) (*Account, error) {
	return decode[Account](ctx, a.resource, request{operation: "getAccount"})
}

// Create (operator token) makes an account and its first API key, shown once.
func (a *Accounts) Create(ctx context.Context, name string) (*CreatedAccount, error) {
	body := map[string]string{"name": name}
	return decode[CreatedAccount](ctx, a.resource, request{operation: "createAccount", json: body})
}

// List (operator token) walks every account.
func (a *Accounts) List(ctx context.Context, options *ListOptions) *Iter[Account] {
	return newIter[Account](ctx, a.t, request{operation: "listAccounts", query: options.query()})
}

// CreateKey (operator token) makes another API key for the account; options (may be
// nil: a key that may do everything) name it and limit its scopes. A sender's backend
// gets Scopes: []string{"events:write"}: it can send events and nothing else.
func (a *Accounts) CreateKey(ctx context.Context, accountID string, options *KeyOptions) (*CreatedKey, error) {
	req := request{operation: "createAccountKey", path: id(accountID)}
	if options != nil {
		req.json = options
	}
	return decode[CreatedKey](ctx, a.resource, req)
}

// ListKeys (operator token) lists the account's keys with their names, scopes and last use.
func (a *Accounts) ListKeys(ctx context.Context, accountID string) ([]APIKeyInfo, error) {
	keys, err := decode[[]APIKeyInfo](ctx, a.resource, request{operation: "listAccountKeys", path: id(accountID)})
	if err != nil {
		return nil, err
	}
	return *keys, nil
}

// DeleteKey (operator token) revokes a key at once.
func (a *Accounts) DeleteKey(ctx context.Context, accountID, keyID string) error {
	path := map[string]string{"id": accountID, "key_id": keyID}
	return a.none(ctx, request{operation: "deleteAccountKey", path: path})
}

// SigningKeys reads the public key set; with the operator token, the keys and their rotation.
type SigningKeys struct{ resource }

// KeySet is the public key set receivers verify with (no token needed).
func (s *SigningKeys) KeySet(ctx context.Context) (*KeySet, error) {
	return decode[KeySet](ctx, s.resource, request{operation: "getKeySet"})
}

// List (operator token) reads the keys with the DNS records to publish.
func (s *SigningKeys) List(ctx context.Context) (*SigningKeyList, error) {
	return decode[SigningKeyList](ctx, s.resource, request{operation: "listSigningKeys"})
}

// Rotate (operator token) makes a new key per algorithm, signing after the pre-publication period.
func (s *SigningKeys) Rotate(ctx context.Context) (*SigningKeyList, error) {
	return decode[SigningKeyList](ctx, s.resource, request{operation: "rotateSigningKeys"})
}
