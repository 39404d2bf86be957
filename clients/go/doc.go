// Package postbode is the client of Postbode, the self-hosted webhook delivery service:
// send events, manage webhooks, profile data and messages. Receivers verify Postbode's
// signed calls with the subpackage signatures.
//
//	client := postbode.New("pb_...", postbode.WithBaseURL("https://postbode.example.com"))
//	accepted, err := client.Events.Send(ctx, postbode.EventRequest{Type: "order.paid", Data: map[string]any{"order": 42}}, nil)
//
// Every method names an operation of Postbode's OpenAPI document (see Operations) and
// leaves the HTTP to one transport, which retries what is safe to repeat. An error
// answer is an *APIError holding the problem document.
//
// Standard library only.
package postbode
