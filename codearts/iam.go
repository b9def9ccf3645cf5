package codearts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// iamSource gets, caches and renews a project-scoped IAM token by password
// (docs/api-reference.md §11.2). One fetch at a time: concurrent callers wait for it.
type iamSource struct {
	c    *Client
	url  *url.URL
	body []byte // the request body holds the password: never logged

	mu      sync.Mutex
	token   string
	expires time.Time
	tokMu   sync.RWMutex // guards tokCopy, read by redact without taking mu
	tokCopy string
}

func newIAMSource(c *Client, p IAMPassword, projectID string) (*iamSource, error) {
	if p.User == "" || p.Password == "" || p.Domain == "" {
		return nil, errors.New("codearts: IAM password auth needs user, password and domain")
	}
	ep := p.Endpoint
	if ep == "" {
		ep = DefaultIAMEndpoint
	}
	u, err := parseBaseURL(ep)
	if err != nil {
		return nil, fmt.Errorf("codearts: IAM endpoint: %w", err)
	}
	u.Path += "/v3/auth/tokens"
	u.RawQuery = "nocatalog=true"

	project := map[string]string{}
	switch {
	case p.ProjectName != "":
		project["name"] = p.ProjectName
	case p.ProjectID != "":
		project["id"] = p.ProjectID
	case projectID != "":
		project["id"] = projectID
	default:
		return nil, errors.New("codearts: IAM password auth needs a project name or id to scope the token (CodeArts rejects unscoped tokens)")
	}
	type obj = map[string]any
	body, err := json.Marshal(obj{"auth": obj{
		"identity": obj{
			"methods": []string{"password"},
			"password": obj{"user": obj{
				"name":     p.User,
				"password": p.Password,
				"domain":   obj{"name": p.Domain},
			}},
		},
		"scope": obj{"project": project},
	}})
	if err != nil {
		return nil, fmt.Errorf("codearts: IAM request body: %w", err)
	}
	return &iamSource{c: c, url: u, body: body}, nil
}

// get returns a token with more than tokenRefreshMargin left, fetching a new
// one when needed. If renewal fails while the cached token is still valid,
// the cached one is returned (and the failure logged).
func (s *iamSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.c.now()
	if s.token != "" && s.expires.Sub(now) > tokenRefreshMargin {
		return s.token, nil
	}
	tok, exp, err := s.fetch(ctx)
	if err != nil {
		if s.token != "" && now.Before(s.expires) {
			s.c.log.Warn("IAM token renewal failed; using the current token until it expires",
				"err", err.Error(), "expires", s.expires.UTC().Format(time.RFC3339))
			return s.token, nil
		}
		return "", err
	}
	s.token, s.expires = tok, exp
	s.tokMu.Lock()
	s.tokCopy = tok
	s.tokMu.Unlock()
	s.c.log.Info("got an IAM token", "expires", exp.UTC().Format(time.RFC3339))
	return tok, nil
}

// invalidate drops the cached token if it is still the one CodeArts
// rejected (a concurrent call may have renewed it already).
func (s *iamSource) invalidate(rejected string) {
	s.mu.Lock()
	if s.token == rejected {
		s.token, s.expires = "", time.Time{}
	}
	s.mu.Unlock()
}

// current is the last token fetched (for redaction only).
func (s *iamSource) current() string {
	s.tokMu.RLock()
	defer s.tokMu.RUnlock()
	return s.tokCopy
}

func (s *iamSource) fetch(ctx context.Context) (string, time.Time, error) {
	u := *s.url
	cl := &call{op: OpIAMToken, method: http.MethodPost, url: &u, body: s.body,
		contentType: "application/json;charset=utf8", iam: true}
	resp, err := s.c.do(ctx, cl)
	if err != nil {
		return "", time.Time{}, err
	}
	tok := resp.header.Get("X-Subject-Token")
	if tok == "" {
		e := cl.errorf("HTTP %d without X-Subject-Token header", resp.status)
		e.HTTPStatus = resp.status
		e.RequestID = requestID(resp.header, "")
		e.Attempts = 1
		return "", time.Time{}, e
	}
	var body struct {
		Token struct {
			ExpiresAt Time `json:"expires_at"`
		} `json:"token"`
	}
	_ = json.Unmarshal(resp.body, &body) // expiry is optional: default TTL below
	exp := body.Token.ExpiresAt.Time
	if exp.IsZero() {
		exp = s.c.now().Add(tokenDefaultTTL)
	}
	return tok, exp, nil
}
