package codearts

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	iamUser     = "exporter-bot"
	iamPassword = "P@ssw0rd-very-secret-value"
	iamDomain   = "example-account"
)

// fakeIAM issues project-scoped tokens for the one user it knows (§11.2).
type fakeIAM struct {
	*httptest.Server
	now func() time.Time
	ttl time.Duration

	mu       sync.Mutex
	issued   []string
	bodies   []map[string]any
	failWith int // answer every request with this status when non-zero
	echo     bool
}

func newFakeIAM(t *testing.T, now func() time.Time) *fakeIAM {
	f := &fakeIAM{now: now, ttl: 24 * time.Hour}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.bodies = append(f.bodies, body)
		if r.Method != http.MethodPost || r.URL.Path != "/v3/auth/tokens" || r.URL.RawQuery != "nocatalog=true" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			writeJSON(w, 400, `{"error":{"code":400,"message":"bad request"}}`)
			return
		}
		if f.failWith != 0 {
			writeJSON(w, f.failWith, `{"error":{"code":"IAM.0001","message":"service unavailable"}}`)
			return
		}
		user := dig(body, "auth", "identity", "password", "user")
		if user["name"] != iamUser || user["password"] != iamPassword || dig(user, "domain")["name"] != iamDomain {
			msg := "The username or password is wrong."
			if f.echo { // a careless server quoting the request
				msg += fmt.Sprintf(" (password %v)", user["password"])
			}
			writeJSON(w, 401, mustJSON(map[string]any{"error": map[string]any{"code": 401, "message": msg, "title": "Unauthorized"}}))
			return
		}
		tok := iamTok(len(f.issued) + 1) // tokens are several KB
		f.issued = append(f.issued, tok)
		w.Header().Set("X-Subject-Token", tok)
		writeJSON(w, 201, fmt.Sprintf(`{"token":{"expires_at":%q,"issued_at":%q,"methods":["password"]}}`,
			f.now().Add(f.ttl).UTC().Format("2006-01-02T15:04:05.000000Z"), f.now().UTC().Format("2006-01-02T15:04:05.000000Z")))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIAM) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.bodies) }

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		m = next
	}
	return m
}

// tokenAPI accepts X-Auth-Token values in valid; anything else gets 401.
type tokenAPI struct {
	mu    sync.Mutex
	valid map[string]bool
	code  string
}

func (a *tokenAPI) allow(tok string, ok bool) { a.mu.Lock(); a.valid[tok] = ok; a.mu.Unlock() }

func (a *tokenAPI) handle(w http.ResponseWriter, r *http.Request, n int) {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Sdk-Date") != "" {
		writeJSON(w, 400, `{"error_code":"CB.00060200","error_msg":"unexpected AK/SK headers with a token"}`)
		return
	}
	a.mu.Lock()
	ok := a.valid[r.Header.Get("X-Auth-Token")]
	code := a.code
	a.mu.Unlock()
	if !ok {
		writeJSON(w, 401, fmt.Sprintf(`{"error_code":%q,"error_msg":"Incorrect IAM authentication information: token expires","request_id":"t-401"}`, code))
		return
	}
	writeJSON(w, 200, okStatus)
}

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func iamClient(t *testing.T, api, iam string, clock *manualClock, mod func(*Options)) *Client {
	c, _ := newTestClient(t, api, func(o *Options) {
		o.Auth = Auth{IAM: &IAMPassword{Endpoint: iam, User: iamUser, Password: iamPassword, Domain: iamDomain, ProjectName: "cn-north-4"}}
		o.Now = clock.now
		if mod != nil {
			mod(o)
		}
	})
	return c
}

func TestIAMTokenCachedAndRenewedBeforeExpiry(t *testing.T) {
	clock := &manualClock{t: time.Date(2025, 6, 26, 6, 0, 0, 0, time.UTC)}
	iam := newFakeIAM(t, clock.now)
	api := &tokenAPI{valid: map[string]bool{iamTok(1): true, iamTok(2): true}}
	srv := newFakeAPI(t, api.handle)
	c := iamClient(t, srv.URL, iam.URL, clock, nil)

	for i := 0; i < 3; i++ {
		if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
			t.Fatal(err)
		}
	}
	if n := iam.count(); n != 1 {
		t.Fatalf("%d IAM requests for 3 calls, want 1 (cached)", n)
	}
	iam.mu.Lock()
	body := iam.bodies[0]
	iam.mu.Unlock()
	if m := dig(body, "auth", "identity")["methods"]; fmt.Sprint(m) != "[password]" {
		t.Errorf("methods %v", m)
	}
	if dig(body, "auth", "scope", "project")["name"] != "cn-north-4" {
		t.Errorf("scope %v", dig(body, "auth", "scope"))
	}
	for _, r := range srv.requests() {
		if r.header.Get("X-Auth-Token") != iamTok(1) {
			t.Errorf("call without the IAM token")
		}
	}

	// At 22h59m, 1h01m is left: still cached.
	clock.advance(22*time.Hour + 59*time.Minute)
	c.ShowRunningStatus(bg, tJob)
	if iam.count() != 1 {
		t.Errorf("token renewed with more than 1h left")
	}
	// Two minutes later less than an hour is left: renewed before expiry.
	clock.advance(2 * time.Minute)
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if iam.count() != 2 {
		t.Errorf("token not renewed with <1h left: %d IAM requests", iam.count())
	}
	reqs := srv.requests()
	if got := reqs[len(reqs)-1].header.Get("X-Auth-Token"); got != iamTok(2) {
		t.Errorf("renewed token not used")
	}
	// 30 min later the new token still has ~23h: cached.
	clock.advance(30 * time.Minute)
	c.ShowRunningStatus(bg, tJob)
	if iam.count() != 2 {
		t.Errorf("token renewed too early: %d IAM requests", iam.count())
	}
	if srv.count() != 6 {
		t.Errorf("%d API requests, want 6", srv.count())
	}
}

// iamTok is the n-th (1-based) token fakeIAM issues.
func iamTok(n int) string { return fmt.Sprintf("MIIT%03d%s", n, strings.Repeat("Zk9", 200)) }

func TestIAMTokenRefreshedExactlyOnceOn401(t *testing.T) {
	for _, code := range []string{"APIG.0301", "APIGW.0307"} {
		t.Run(code, func(t *testing.T) {
			clock := &manualClock{t: time.Now()}
			iam := newFakeIAM(t, clock.now)
			api := &tokenAPI{valid: map[string]bool{}, code: code}
			srv := newFakeAPI(t, api.handle)
			c := iamClient(t, srv.URL, iam.URL, clock, func(o *Options) { o.MaxRetries = 5 })

			// Warm up with token 1.
			api.allow(iamTok(1), true)
			if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
				t.Fatal(err)
			}
			// Token 1 revoked (e.g. password changed): one renewal, then success.
			api.allow(iamTok(1), false)
			api.allow(iamTok(2), true)
			if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
				t.Fatalf("not recovered by one renewal: %v", err)
			}
			if iam.count() != 2 || srv.count() != 3 {
				t.Errorf("IAM %d, API %d requests; want 2, 3", iam.count(), srv.count())
			}
			// Every token rejected: exactly one renewal, then a clear error.
			api.allow(iamTok(2), false)
			_, err := c.ShowRunningStatus(bg, tJob)
			if !IsAuth(err) || !strings.Contains(err.Error(), code) {
				t.Fatalf("error %v", err)
			}
			if iam.count() != 3 || srv.count() != 5 {
				t.Errorf("IAM %d, API %d requests; want 3, 5 (no loop)", iam.count(), srv.count())
			}
			// And then no more calls for the pause.
			c.ShowRunningStatus(bg, tJob)
			if iam.count() != 3 || srv.count() != 5 {
				t.Errorf("calls during the auth pause: IAM %d, API %d", iam.count(), srv.count())
			}
		})
	}
}

func TestIAMWrongPasswordOneAttempt(t *testing.T) {
	clock := &manualClock{t: time.Now()}
	iam := newFakeIAM(t, clock.now)
	srv := newFakeAPI(t, (&tokenAPI{valid: map[string]bool{}}).handle)
	c, _ := newTestClient(t, srv.URL, func(o *Options) {
		o.Auth = Auth{IAM: &IAMPassword{Endpoint: iam.URL, User: iamUser, Password: "wrong-pw-0x5e1f", Domain: iamDomain}} // no English word: 8 characters of a secret are redacted anywhere
		o.Now = clock.now
		o.MaxRetries = 5
	})
	_, err := c.ShowRunningStatus(bg, tJob)
	if !IsAuth(err) {
		t.Fatalf("error %v", err)
	}
	containsAll(t, err.Error(), "ShowRunningStatus job="+tJob, "HTTP 401", "get IAM token", "The username or password is wrong.")
	if _, err := c.ShowRunningStatus(bg, tJob); !IsAuth(err) || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("call during the IAM pause: %v", err)
	}
	if iam.count() != 1 || srv.count() != 0 {
		t.Errorf("IAM %d, API %d requests; want 1, 0", iam.count(), srv.count())
	}
	// Scoped by project id when no name is given.
	iam.mu.Lock()
	scope := dig(iam.bodies[0], "auth", "scope", "project")
	iam.mu.Unlock()
	if scope["id"] != exProject {
		t.Errorf("scope %v", scope)
	}
}

func TestIAMRenewalFailureKeepsValidToken(t *testing.T) {
	clock := &manualClock{t: time.Now()}
	iam := newFakeIAM(t, clock.now)
	api := &tokenAPI{valid: map[string]bool{}}
	srv := newFakeAPI(t, api.handle)
	c := iamClient(t, srv.URL, iam.URL, clock, func(o *Options) { o.MaxRetries = 1 })
	api.allow(iamTok(1), true)
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	iam.mu.Lock()
	iam.failWith = 503
	iam.mu.Unlock()
	clock.advance(23*time.Hour + 30*time.Minute) // renewal due, token valid for 30 min more
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatalf("valid token not used while IAM is down: %v", err)
	}
	if iam.count() != 3 { // first fetch + 2 attempts of the renewal
		t.Errorf("%d IAM requests", iam.count())
	}
	clock.advance(time.Hour) // expired and IAM still down
	_, err := c.ShowRunningStatus(bg, tJob)
	if err == nil || !strings.Contains(err.Error(), "get IAM token") || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("error %v", err)
	}
}

func TestStaticTokenHeaders(t *testing.T) {
	api := &tokenAPI{valid: map[string]bool{"static-token-abcdef": true}}
	srv := newFakeAPI(t, api.handle)
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.Auth = Auth{Token: "static-token-abcdef"} })
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	h := srv.requests()[0].header
	if h.Get("X-Auth-Token") != "static-token-abcdef" || h.Get("Authorization") != "" || h.Get("X-Project-Id") != "" {
		t.Errorf("headers %v", h)
	}
}

func TestAKSKHeadersAndTemporaryCredentials(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	c, _ := newTestClient(t, srv.URL, func(o *Options) {
		o.Auth = Auth{AccessKey: exAK, SecretKey: exSK, SecurityToken: "sts-security-token-xyz"}
	})
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err) // the fake gateway verified the signature
	}
	h := srv.requests()[0].header
	if h.Get("X-Project-Id") != exProject || h.Get("X-Security-Token") != "sts-security-token-xyz" || h.Get("X-Auth-Token") != "" {
		t.Errorf("headers %v", h)
	}
	if !strings.Contains(h.Get("Authorization"), "SignedHeaders=host;x-project-id;x-sdk-date;x-security-token,") {
		t.Errorf("Authorization %q", h.Get("Authorization"))
	}
}

func TestNewValidatesOptions(t *testing.T) {
	ok := Auth{Token: "tok1"}
	for name, o := range map[string]Options{
		"no endpoint":     {Auth: ok},
		"bad scheme":      {Endpoint: "ftp://x", Auth: ok},
		"no host":         {Endpoint: "https://", Auth: ok},
		"query":           {Endpoint: "https://x/?a=b", Auth: ok},
		"no auth":         {Endpoint: "https://x"},
		"two methods":     {Endpoint: "https://x", Auth: Auth{Token: "t", AccessKey: "a", SecretKey: "s"}},
		"AK without SK":   {Endpoint: "https://x", Auth: Auth{AccessKey: "a"}},
		"STS without AK":  {Endpoint: "https://x", Auth: Auth{SecurityToken: "s"}},
		"IAM no password": {Endpoint: "https://x", Auth: Auth{IAM: &IAMPassword{User: "u", Domain: "d", ProjectName: "p"}}},
		"IAM no scope":    {Endpoint: "https://x", Auth: Auth{IAM: &IAMPassword{User: "u", Password: "p", Domain: "d"}}},
		"negative retry":  {Endpoint: "https://x", Auth: ok, MaxRetries: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Options{Endpoint: "https://x/prefix/", Auth: ok}); err != nil {
		t.Errorf("base path: %v", err)
	}
}

func TestBasePathPrefixKept(t *testing.T) {
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	c, _ := newTestClient(t, srv.URL+"/gateway/", nil)
	if _, err := c.ShowRunningStatus(bg, tJob); err != nil {
		t.Fatal(err)
	}
	if p := srv.requests()[0].path; p != "/gateway/v1/job/"+tJob+"/running-status" {
		t.Errorf("path %q", p)
	}
}

func TestRedirectNotFollowedTokenNotForwarded(t *testing.T) {
	other := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, okStatus) })
	srv := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	})
	c, _ := newTestClient(t, srv.URL, func(o *Options) { o.Auth = Auth{Token: "static-token-abcdef"}; o.HTTPClient = &http.Client{} })
	_, err := c.ShowRunningStatus(bg, tJob)
	if err == nil || !strings.Contains(err.Error(), "HTTP 302") || IsTemporary(err) {
		t.Errorf("redirect: %v", err)
	}
	if other.count() != 0 {
		t.Error("redirect followed: the token went to another host")
	}
}
