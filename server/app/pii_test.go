package app_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/partners/etvas"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
)

// TestLogsCarryNoPersonalData feeds a full Etvas user.create (the developer portal's example,
// signed as Etvas signs it) through the real server, with debug logging on, and requires that
// none of its personal values — nor the secrets that authenticated it — reach the logs.
func TestLogsCarryNoPersonalData(t *testing.T) {
	s := apptest.Start(t)
	body := `{
  "event": {"id": "5fa30c48-7c7f-4440-bbc6-fdd927e7dc48", "type": "user.create", "timestamp": ` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `},
  "user": {"id": "52f3d719-a192-4153-a05c-2b6bcc26c839", "partnerId": null,
           "auth": {"token": "378aee42-49a8-41ef-acdb-52d1259814de", "expires": 2086584376}},
  "data": {
    "user": {"salutation": "Mr.", "firstName": "Jonathan-Quincy", "lastName": "Doerflinger",
             "email": "jq.doerflinger@example.org", "phone": "+1303500600", "dateOfBirth": "1990-12-21",
             "address1": "2698 Sundown Lane", "address2": "Ap. 255", "city": "Berlinerstadt",
             "region/state": "Brandenburgia", "country": "Germany", "postalCode": "10101"},
    "webIdentity": {"status": "verified", "verificationId": "450a936a-aa4a-4d3d-a3dd-333d73c8ba99"}
  }
}`
	sig := etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), []byte(body))
	r := s.Do(t, http.MethodPost, "/etvas-events", "", strings.NewReader(body), map[string]string{
		"x-api-key": etvasbox.DefaultAPIKey, "x-etvas-signature": sig,
	})
	if r.Code != http.StatusOK || !strings.Contains(string(r.Body), `"partnerId"`) {
		t.Fatalf("user.create = %d %s", r.Code, r.Body)
	}
	logs := s.Logs.String()
	if !strings.Contains(logs, `"path":"/etvas-events"`) {
		t.Fatalf("the request was not logged at all; the test would prove nothing:\n%s", logs)
	}
	for _, secret := range []string{
		"Jonathan-Quincy", "Doerflinger", "jq.doerflinger@example.org", "+1303500600", "1303500600",
		"1990-12-21", "2698 Sundown Lane", "Ap. 255", "Berlinerstadt", "Brandenburgia", "10101",
		"378aee42-49a8-41ef-acdb-52d1259814de", // the user's auth token
		sig, etvasbox.DefaultEventSecret, etvasbox.DefaultAPIKey,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
