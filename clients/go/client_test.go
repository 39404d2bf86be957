package postbode_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	postbode "github.com/postbode/postbode/clients/go"
)

// Every operation of the client round-trips against the real service.

var ctx = context.Background()

func servedDocument(t *testing.T, url string) map[string]any {
	res, err := http.Get(url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var document map[string]any
	if err := json.NewDecoder(res.Body).Decode(&document); err != nil {
		t.Fatal(err)
	}
	return document
}

func TestEveryOperationTheClientCallsIsInTheServedDocument(t *testing.T) {
	s := setUp(t, "go document tests")
	served := map[string]postbode.Operation{}
	for path, item := range servedDocument(t, s.url)["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			id := op.(map[string]any)["operationId"].(string)
			served[id] = postbode.Operation{Method: strings.ToUpper(method), Path: path}
		}
	}
	for id, operation := range postbode.Operations {
		if served[id] != operation {
			t.Errorf("%s: the client calls %v, the document has %v", id, operation, served[id])
		}
	}
}

// jsonNames are the JSON names of a struct's fields (of an embedded struct's too).
func jsonNames(typ reflect.Type) []string {
	var names []string
	for i := 0; i < typ.NumField(); i++ {
		field := typ.Field(i)
		if field.Anonymous {
			names = append(names, jsonNames(field.Type)...)
			continue
		}
		names = append(names, strings.Split(field.Tag.Get("json"), ",")[0])
	}
	sort.Strings(names)
	return names
}

func TestEachTypeHasThePropertiesOfItsSchema(t *testing.T) {
	s := setUp(t, "go schema tests")
	schemas := servedDocument(t, s.url)["components"].(map[string]any)["schemas"].(map[string]any)
	types := map[string]any{
		"Account": postbode.Account{}, "CreatedKey": postbode.CreatedKey{}, "ApiKeyInfo": postbode.APIKeyInfo{}, "VerificationView": postbode.Verification{},
		"HealthView": postbode.Health{}, "WebhookView": postbode.Webhook{}, "SecretView": postbode.WebhookSecret{},
		"RotatedSecret": postbode.RotatedSecret{}, "VerifyAnswer": postbode.VerifyResult{}, "TestReport": postbode.TestReport{},
		"CheckAnswer": postbode.CheckResult{}, "Recovered": postbode.Recovered{}, "Accepted": postbode.Accepted{},
		"ReplayStarted": postbode.ReplayStarted{}, "JobView": postbode.Job{},
		"BatchAccepted": postbode.BatchAccepted{}, "Delivery": postbode.Delivery{}, "EventView": postbode.Event{},
		"Attempt": postbode.Attempt{}, "StatsBucket": postbode.StatsBucket{}, "StatsView": postbode.Stats{},
		"DatabaseView": postbode.Database{}, "CollectionView": postbode.Collection{}, "ProfileView": postbode.Profile{},
		"SubprofileView": postbode.Subprofile{}, "ErasureView": postbode.Erasure{}, "ImportSummary": postbode.ImportSummary{},
		"MessageView": postbode.Message{}, "LinkView": postbode.Link{}, "DomainView": postbode.Domain{},
		"ValidationView": postbode.DomainValidation{}, "SigningKeys": postbode.SigningKeyList{}, "KeySet": postbode.KeySet{},
		"WebhookSettings": postbode.WebhookSettings{}, "WebhookPatch": postbode.WebhookPatch{},
		"EventRequest": postbode.EventRequest{}, "ProfileRequest": postbode.ProfileRequest{},
		"MessageRequest": postbode.MessageRequest{}, "TestRequest": postbode.TestRequest{}, "Definition": postbode.Definition{},
		"FieldDef": postbode.FieldDef{}, "Mailing": postbode.Mailing{}, "RateLimit": postbode.RateLimit{}, "Batch": postbode.Batch{},
	}
	for name, value := range types {
		schema := schemas[name].(map[string]any)
		if all, ok := schema["allOf"].([]any); ok {
			schema = all[len(all)-1].(map[string]any)
		}
		var properties []string
		for property := range schema["properties"].(map[string]any) {
			properties = append(properties, property)
		}
		sort.Strings(properties)
		if got := jsonNames(reflect.TypeOf(value)); !reflect.DeepEqual(got, properties) {
			t.Errorf("%s: the Go type has %v, the schema %v", name, got, properties)
		}
	}
}

func TestEventsOneWithAnIdempotencyKeyABatchAndGetWithDeliveries(t *testing.T) {
	s := setUp(t, "go event tests")
	r := startReceiver(t)
	hook := must(s.client.Webhooks.Create(ctx, postbode.WebhookSettings{URL: r.URL, Events: []string{"order.paid"}}))
	send := postbode.EventRequest{Type: "order.paid", Data: map[string]any{"order": 42}}
	accepted := must(s.client.Events.Send(ctx, send, &postbode.SendOptions{IdempotencyKey: "order-42"}))
	if accepted.Deliveries != 1 {
		t.Fatalf("%d deliveries", accepted.Deliveries)
	}
	if again := must(s.client.Events.Send(ctx, send, &postbode.SendOptions{IdempotencyKey: "order-42"})); again.ID != accepted.ID {
		t.Errorf("the repeat made another event %s", again.ID)
	}
	other := postbode.EventRequest{Type: "order.paid", Data: map[string]any{"order": 43}}
	if _, err := s.client.Events.Send(ctx, other, &postbode.SendOptions{IdempotencyKey: "order-42"}); !postbode.IsConflict(err) {
		t.Errorf("a reused key with another body: %v", err)
	}
	batch := must(s.client.Events.SendBatch(ctx, []postbode.EventRequest{
		{Type: "order.paid", Data: map[string]any{"order": 1}}, {Type: "order.paid", Data: map[string]any{"order": 2}},
	}))
	if len(batch.IDs) != 2 {
		t.Errorf("batch ids %v", batch.IDs)
	}
	var orders []int
	for _, c := range r.waitFor(t, 3) {
		var body struct{ Data struct{ Order int } }
		_ = json.Unmarshal(c.Body, &body)
		orders = append(orders, body.Data.Order)
	}
	sort.Ints(orders)
	if fmt.Sprint(orders) != "[1 2 42]" {
		t.Errorf("the receiver got orders %v", orders)
	}
	var event *postbode.Event
	eventually(t, "the delivery", func() bool {
		event = must(s.client.Events.Get(ctx, accepted.ID))
		return event.Deliveries[0].Status == "delivered"
	})
	if !strings.Contains(string(event.Body), `"order":42`) {
		t.Errorf("the event's body %s", event.Body)
	}
	if d := must(s.client.Deliveries.Get(ctx, event.Deliveries[0].ID)); d.WebhookID != hook.ID {
		t.Errorf("delivery of %s", d.WebhookID)
	}
}

func TestABadBatchNamesTheFieldByItsFullPath(t *testing.T) {
	s := setUp(t, "go batch tests")
	_, err := s.client.Events.SendBatch(ctx, []postbode.EventRequest{{Type: "order.paid"}, {Data: map[string]any{}}})
	apiErr, ok := err.(*postbode.APIError)
	if !ok || apiErr.Status != 422 {
		t.Fatalf("not a 422: %v", err)
	}
	if _, named := apiErr.FieldErrors()["events[1].type"]; !named {
		t.Errorf("errors %v", apiErr.Errors)
	}
}

func TestWebhooksCreateListEveryPageGetUpdateDelete(t *testing.T) {
	s := setUp(t, "go webhook tests")
	r := startReceiver(t)
	var created []*postbode.Webhook
	for n := 0; n < 3; n++ {
		settings := postbode.WebhookSettings{URL: fmt.Sprintf("%s?n=%d", r.URL, n), Description: "page test"}
		created = append(created, must(s.client.Webhooks.Create(ctx, settings)))
	}
	if !strings.HasPrefix(created[0].Secret, "whsec_") {
		t.Errorf("secret %q", created[0].Secret)
	}
	listed := must(s.client.Webhooks.List(ctx, &postbode.WebhookListOptions{Limit: 1}).All())
	if len(listed) != 3 || listed[0].ID != created[0].ID || listed[2].ID != created[2].ID {
		t.Errorf("listed %d webhooks", len(listed))
	}
	if got := must(s.client.Webhooks.Get(ctx, created[0].ID)); got.Secret != "" {
		t.Error("a plain GET shows the secret")
	}
	description, concurrency := "changed", 4
	updated := must(s.client.Webhooks.Update(ctx, created[0].ID, postbode.WebhookPatch{Description: &description, MaxConcurrency: &concurrency}))
	if updated.Description != "changed" || updated.MaxConcurrency != 4 || updated.URL != created[0].URL {
		t.Errorf("updated %+v", updated)
	}
	for _, hook := range created {
		if err := s.client.Webhooks.Delete(ctx, hook.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.client.Webhooks.Get(ctx, created[0].ID); !postbode.IsNotFound(err) {
		t.Errorf("a deleted webhook: %v", err)
	}
}

func TestWebhooksVerifyTestSecretsCheckAttemptsExportAndStats(t *testing.T) {
	s := setUp(t, "go webhook check tests")
	r := startReceiver(t)
	hook := must(s.client.Webhooks.Create(ctx, postbode.WebhookSettings{URL: r.URL}))
	r.serve("/hooks/"+hook.Verification.FileName, must(s.client.Webhooks.VerificationFile(ctx, hook.ID)))
	if got := must(s.client.Webhooks.Verify(ctx, hook.ID)); got.Status != "verified" {
		t.Errorf("verification %+v", got)
	}
	report := must(s.client.Webhooks.Test(ctx, hook.ID, postbode.TestRequest{Type: "order.paid", Data: map[string]any{"order": 7}}))
	if report.StatusCode == nil || *report.StatusCode != 200 {
		t.Errorf("test report %+v", report)
	}
	if calls := r.waitFor(t, 1); !strings.Contains(string(calls[0].Body), `"data":{"order":7}`) {
		t.Errorf("test call %s", calls[0].Body)
	}
	rotated := must(s.client.Webhooks.RotateSecret(ctx, hook.ID))
	shown := must(s.client.Webhooks.Secret(ctx, hook.ID))
	if shown.Secret != rotated.Secret || shown.PreviousSecret == nil || *shown.PreviousSecret != hook.Secret {
		t.Errorf("secrets %+v", shown)
	}
	checked := false
	for _, line := range must(s.client.Webhooks.CheckAll(ctx)).Data {
		checked = checked || line.WebhookID == hook.ID && line.OK
	}
	if !checked {
		t.Error("check-all did not check the webhook")
	}
	attempts := must(s.client.Webhooks.Attempts(ctx, hook.ID, nil).All())
	if len(attempts) == 0 || attempts[0].Trigger != "test" {
		t.Errorf("attempts %+v", attempts)
	}
	if csv := must(s.client.Webhooks.ExportAttempts(ctx, hook.ID, "csv", nil)); !strings.HasPrefix(csv, "id,") {
		t.Errorf("csv %q", csv)
	}
	if jsonl := must(s.client.Webhooks.ExportAttempts(ctx, hook.ID, "jsonl", nil)); strings.TrimSpace(jsonl) == "" {
		t.Error("empty jsonl export")
	}
	stats := must(s.client.Webhooks.Stats(ctx, hook.ID, &postbode.StatsOptions{Bucket: "hour"}))
	if stats.WebhookID != hook.ID || stats.Bucket != "hour" {
		t.Errorf("stats %+v", stats)
	}
}

func TestAFailedDeliveryIsResentAndRecovered(t *testing.T) {
	s := setUp(t, "go recovery tests")
	r := startReceiver(t)
	r.setStatuses(500, 500)
	hook := must(s.client.Webhooks.Create(ctx, postbode.WebhookSettings{URL: r.URL, Events: []string{"order.failed"}}))
	since := time.Now().Add(-time.Minute)
	event := must(s.client.Events.Send(ctx, postbode.EventRequest{Type: "order.failed", Data: map[string]any{"order": 1}}, nil))
	r.waitFor(t, 1)
	var delivery postbode.Delivery
	eventually(t, "the first attempt to fail", func() bool {
		for _, d := range must(s.client.Webhooks.Deliveries(ctx, hook.ID, nil).All()) {
			if d.Attempts == 1 {
				delivery = d
				return true
			}
		}
		return false
	})
	if delivery.EventID != event.ID || delivery.LastStatusCode == nil || *delivery.LastStatusCode != 500 {
		t.Errorf("delivery %+v", delivery)
	}
	if resent := must(s.client.Deliveries.Resend(ctx, delivery.ID)); resent.ID != delivery.ID {
		t.Errorf("resent %s", resent.ID)
	}
	r.waitFor(t, 2)
	eventually(t, "the resent attempt", func() bool { return must(s.client.Deliveries.Get(ctx, delivery.ID)).Attempts == 2 })
	if recovered := must(s.client.Webhooks.Recover(ctx, hook.ID, since, time.Time{})); recovered.Deliveries != 1 {
		t.Errorf("recovered %d", recovered.Deliveries)
	}
	r.waitFor(t, 3)
	eventually(t, "the recovered delivery", func() bool { return must(s.client.Deliveries.Get(ctx, delivery.ID)).Status == "delivered" })
	delivered := must(s.client.Webhooks.Deliveries(ctx, hook.ID, &postbode.DeliveryFilter{Status: "delivered"}).All())
	if len(delivered) != 1 || delivered[0].ID != delivery.ID {
		t.Errorf("delivered %+v", delivered)
	}
}

func TestDatabasesCollectionsProfilesSubprofilesImportAndErasure(t *testing.T) {
	s := setUp(t, "go profile tests")
	c := s.client
	database := must(c.Databases.Create(ctx, postbode.Definition{Name: "customers", Fields: []postbode.FieldDef{{Name: "email", Type: "email"}, {Name: "age", Type: "integer"}}}))
	if all := must(c.Databases.List(ctx, nil).All()); len(all) != 1 || all[0].ID != database.ID {
		t.Errorf("databases %+v", all)
	}
	if got := must(c.Databases.Update(ctx, database.ID, postbode.Definition{Name: "clients"})); got.Name != "clients" {
		t.Errorf("renamed %s", got.Name)
	}
	if got := must(c.Databases.Get(ctx, database.ID)); got.Name != "clients" {
		t.Errorf("read %s", got.Name)
	}
	collection := must(c.Collections.Create(ctx, database.ID, postbode.Definition{Name: "orders", Fields: []postbode.FieldDef{{Name: "total", Type: "float"}}}))
	if all := must(c.Collections.List(ctx, database.ID, nil).All()); len(all) != 1 {
		t.Errorf("collections %+v", all)
	}
	if got := must(c.Collections.Update(ctx, collection.ID, postbode.Definition{Name: "purchases"})); got.Name != "purchases" {
		t.Errorf("renamed %s", got.Name)
	}
	if got := must(c.Collections.Get(ctx, collection.ID)); got.Name != "purchases" {
		t.Errorf("read %s", got.Name)
	}
	profile := must(c.Profiles.Create(ctx, database.ID, postbode.ProfileRequest{Fields: map[string]any{"email": "piet@example.com", "age": 31}, Interests: []string{"news"}}))
	if profile.Sequence != 1 {
		t.Errorf("sequence %d", profile.Sequence)
	}
	found := must(c.Profiles.List(ctx, database.ID, &postbode.ProfileListOptions{Where: map[string]string{"email": "piet@example.com"}}).All())
	if len(found) != 1 || found[0].ID != profile.ID {
		t.Errorf("found %+v", found)
	}
	if got := must(c.Profiles.Update(ctx, profile.ID, postbode.ProfileRequest{Fields: map[string]any{"age": 32}})); got.Fields["age"] != float64(32) {
		t.Errorf("merged %v", got.Fields)
	}
	if got := must(c.Profiles.Replace(ctx, profile.ID, postbode.ProfileRequest{Fields: map[string]any{"email": "piet@example.com"}})); got.Fields["age"] != nil {
		t.Errorf("replaced %v", got.Fields)
	}
	if got := must(c.Profiles.Get(ctx, profile.ID)); got.Sequence != 3 {
		t.Errorf("sequence %d", got.Sequence)
	}
	sub := must(c.Subprofiles.Create(ctx, profile.ID, collection.ID, map[string]any{"total": 9.5}))
	if all := must(c.Subprofiles.List(ctx, profile.ID, nil).All()); len(all) != 1 || all[0].ID != sub.ID {
		t.Errorf("subprofiles %+v", all)
	}
	if got := must(c.Subprofiles.Update(ctx, sub.ID, map[string]any{"total": 10.0})); got.Fields["total"] != 10.0 {
		t.Errorf("merged %v", got.Fields)
	}
	if got := must(c.Subprofiles.Replace(ctx, sub.ID, map[string]any{})); got.Fields["total"] != nil {
		t.Errorf("replaced %v", got.Fields)
	}
	if got := must(c.Subprofiles.Get(ctx, sub.ID)); got.CollectionID != collection.ID {
		t.Errorf("collection %s", got.CollectionID)
	}
	if err := c.Subprofiles.Delete(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	summary := must(c.Databases.ImportProfiles(ctx, database.ID, []byte("email,age\nkees@example.com,40\nbad,x\n"), "text/csv", "email"))
	if summary.Created != 1 || summary.RejectedCount != 1 {
		t.Errorf("import %+v", summary)
	}
	kees := must(c.Profiles.List(ctx, database.ID, &postbode.ProfileListOptions{Where: map[string]string{"email": "kees@example.com"}}).All())
	if err := c.Profiles.Delete(ctx, kees[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Profiles.Get(ctx, kees[0].ID); !postbode.IsNotFound(err) {
		t.Errorf("a deleted profile: %v", err)
	}
	erased := must(c.Profiles.Erase(ctx, profile.ID))
	if erased.ProfileID != profile.ID || erased.Erased.Events < 3 {
		t.Errorf("erased %+v", erased)
	}
	if err := c.Collections.Delete(ctx, collection.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Databases.Delete(ctx, database.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.Get(ctx, database.ID); !postbode.IsNotFound(err) {
		t.Errorf("a deleted database: %v", err)
	}
}

func TestMessagesLinksAndEveryReport(t *testing.T) {
	s := setUp(t, "go message tests")
	r := startReceiver(t)
	must(s.client.Webhooks.Create(ctx, postbode.WebhookSettings{URL: r.URL, Events: []string{"delivery", "bounce", "failure", "abuse", "unsubscribe"}}))
	message := must(s.client.Messages.Create(ctx, postbode.MessageRequest{Mailing: postbode.Mailing{ID: "spring-2026", Tags: []string{"spring"}}, Email: "piet@example.com"}))
	if !strings.HasPrefix(message.OpenURL, "http") {
		t.Errorf("open url %s", message.OpenURL)
	}
	if link := must(s.client.Messages.Link(ctx, message.ID, "https://shop.example.com/sale")); !strings.Contains(link.ClickURL, "/t/c/") {
		t.Errorf("click url %s", link.ClickURL)
	}
	reports := []*postbode.Accepted{
		must(s.client.Messages.ReportDelivery(ctx, message.ID, postbode.Report{"code": 250, "extended": "2.0.0"})),
		must(s.client.Messages.ReportBounce(ctx, message.ID, postbode.Report{"envelope": "bounces@example.com"})),
		must(s.client.Messages.ReportFailure(ctx, message.ID, postbode.Report{"state": "rcpt", "code": 550, "description": "User unknown"})),
		must(s.client.Messages.ReportAbuse(ctx, message.ID, postbode.Report{"emailfrom": "piet@example.com"})),
		must(s.client.Messages.ReportUnsubscribe(ctx, message.ID)),
	}
	for _, report := range reports {
		if report.Deliveries != 1 {
			t.Errorf("report %+v", report)
		}
	}
	var types []string
	for _, c := range r.waitFor(t, 5) {
		var body struct{ Type string }
		_ = json.Unmarshal(c.Body, &body)
		types = append(types, body.Type)
	}
	sort.Strings(types)
	if strings.Join(types, ",") != "abuse,bounce,delivery,failure,unsubscribe" {
		t.Errorf("types %v", types)
	}
}

func TestDomains(t *testing.T) {
	s := setUp(t, "go domain tests")
	domain := must(s.client.Domains.Create(ctx, "shop.go.example.com"))
	if domain.Record.Type != "TXT" {
		t.Errorf("record %+v", domain.Record)
	}
	if all := must(s.client.Domains.List(ctx, nil).All()); len(all) != 1 || all[0].ID != domain.ID {
		t.Errorf("domains %+v", all)
	}
	if got := must(s.client.Domains.Get(ctx, domain.ID)); got.Domain != domain.Domain {
		t.Errorf("domain %s", got.Domain)
	}
	if got := must(s.client.Domains.Validate(ctx, domain.ID)); got.Status != "pending" {
		t.Errorf("validation %+v", got)
	}
	if err := s.client.Domains.Delete(ctx, domain.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.Domains.Get(ctx, domain.ID); !postbode.IsNotFound(err) {
		t.Errorf("a deleted domain: %v", err)
	}
}

func TestAccountsAndKeysWithTheOperatorToken(t *testing.T) {
	s := setUp(t, "go account tests")
	listed := false
	for _, a := range must(s.operator.Accounts.List(ctx, &postbode.ListOptions{Limit: 1}).All()) {
		listed = listed || a.ID == s.account.ID
	}
	if !listed {
		t.Error("the account is not listed")
	}
	key := must(s.operator.Accounts.CreateKey(ctx, s.account.ID, nil))
	second := postbode.New(key.APIKey, postbode.WithBaseURL(s.url))
	if got := must(second.Accounts.Current(ctx)); got.ID != s.account.ID {
		t.Errorf("account %s", got.ID)
	}
	if err := s.operator.Accounts.DeleteKey(ctx, s.account.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Accounts.Current(ctx); !postbode.IsUnauthorized(err) {
		t.Errorf("a deleted key: %v", err)
	}
}

func TestAScopedKeySendsEventsAndNothingElse(t *testing.T) {
	s := setUp(t, "go scope tests")
	key := must(s.operator.Accounts.CreateKey(ctx, s.account.ID, &postbode.KeyOptions{Name: "shop", Scopes: []string{"events:write"}}))
	if key.Name == nil || *key.Name != "shop" || len(key.Scopes) != 1 || key.Scopes[0] != "events:write" {
		t.Fatalf("created %+v", key)
	}
	sender := postbode.New(key.APIKey, postbode.WithBaseURL(s.url))
	must(sender.Events.Send(ctx, postbode.EventRequest{Type: "order.paid", Data: map[string]any{"total": 1}}, nil))
	_, err := sender.Webhooks.List(ctx, nil).All()
	if !postbode.IsForbidden(err) || !strings.Contains(err.Error(), "webhooks:read") {
		t.Errorf("listing webhooks with a sender's key: %v", err)
	}
	found := false
	for _, k := range must(s.operator.Accounts.ListKeys(ctx, s.account.ID)) {
		if k.ID == key.ID {
			found = len(k.Scopes) == 1 && k.Scopes[0] == "events:write" && *k.Name == "shop"
		}
	}
	if !found {
		t.Error("the listing does not show the key with its name and scopes")
	}
}

func TestSigningKeys(t *testing.T) {
	s := setUp(t, "go signing key tests")
	listed := must(s.operator.SigningKeys.List(ctx))
	keySet := must(s.client.SigningKeys.KeySet(ctx))
	if len(listed.Data) != len(keySet.Keys) {
		t.Errorf("%d keys listed, %d published", len(listed.Data), len(keySet.Keys))
	}
	algorithms := map[string]bool{}
	for _, key := range keySet.Keys {
		algorithms[key.Algorithm] = true
	}
	if !algorithms["rsa-sha256"] || !algorithms["ed25519"] {
		t.Errorf("algorithms %v", algorithms)
	}
	// A rotation publishes a next key per algorithm (once: while one waits, it is the one).
	rotated := must(s.operator.SigningKeys.Rotate(ctx))
	next, kept := map[string]bool{}, map[string]bool{}
	for _, key := range rotated.Data {
		kept[key.KeyID] = true
		if key.State == "next" {
			next[key.Algorithm] = true
		}
	}
	for _, key := range listed.Data {
		if !next[key.Algorithm] {
			t.Errorf("no next %s key after rotating", key.Algorithm)
		}
		if key.State == "active" && !kept[key.KeyID] {
			t.Errorf("the active key %s is gone after rotating", key.KeyID)
		}
	}
}

func TestAProblemDocumentNamesEachBadField(t *testing.T) {
	s := setUp(t, "go problem tests")
	_, err := s.client.Webhooks.Update(ctx, "wh_none", map[string]any{"max_concurrency": "many"})
	if !postbode.IsValidation(err) && !postbode.IsNotFound(err) {
		t.Fatalf("an update of nothing: %v", err)
	}
	hook := must(s.client.Webhooks.Create(ctx, postbode.WebhookSettings{URL: "http://127.0.0.1:9/hooks"}))
	_, err = s.client.Webhooks.Update(ctx, hook.ID, map[string]any{"max_concurrency": "many", "rate_limit": map[string]any{"per_second": "fast"}})
	apiErr, ok := err.(*postbode.APIError)
	if !ok || apiErr.Type != "/problems/validation" {
		t.Fatalf("not a validation problem: %v", err)
	}
	fields := apiErr.FieldErrors()
	if _, ok := fields["max_concurrency"]; !ok {
		t.Errorf("fields %v", fields)
	}
	if _, ok := fields["rate_limit.per_second"]; !ok {
		t.Errorf("fields %v", fields)
	}
}

func TestAWrongTokenIsUnauthorized(t *testing.T) {
	s := setUp(t, "go token tests")
	if _, err := postbode.New("pb_wrong", postbode.WithBaseURL(s.url)).Accounts.Current(ctx); !postbode.IsUnauthorized(err) {
		t.Errorf("a wrong token: %v", err)
	}
}
