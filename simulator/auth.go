package simulator

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codearts-build-exporter/codearts_build_exporter/codearts"
)

// maxSkew is the gateway's tolerance for X-Sdk-Date (docs/api-reference.md §11.1 step 1).
const maxSkew = 15 * time.Minute

// authEnabled reports whether any credential is configured.
func (s *Server) authEnabled() bool {
	return s.opts.AccessKey != "" || s.opts.Token != "" || s.opts.IAMUser != ""
}

// authenticate checks the request's credentials the way the API gateway
// does. It returns false after answering 401/403. The order: X-Auth-Token
// (static or IAM-issued), else an SDK-HMAC-SHA256 Authorization, else 401.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if !s.authEnabled() {
		return true
	}
	fail := func(status int, code, msg string) bool {
		s.stats.authFail.Add(1)
		s.apigError(w, status, code, msg)
		return false
	}
	now := s.clock.Now()
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1 {
			return true
		}
		s.authMu.Lock()
		exp, ok := s.tokens[tok]
		s.authMu.Unlock()
		switch {
		case ok && now.UnixMilli() < exp:
			return true
		case ok:
			return fail(http.StatusUnauthorized, "APIG.0307", "The token must be updated: token expires")
		}
		return fail(http.StatusUnauthorized, "APIG.0301", "Incorrect IAM authentication information: decrypt token fail")
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return fail(http.StatusUnauthorized, "APIG.0301", "Incorrect IAM authentication information: x-auth-token not found")
	}
	if s.opts.AccessKey == "" {
		return fail(http.StatusUnauthorized, "APIG.0301", "Incorrect IAM authentication information: verify aksk signature fail")
	}
	if s.opts.AKLockout {
		s.authMu.Lock()
		locked := now.UnixMilli() < s.akLocked
		s.authMu.Unlock()
		if locked {
			return fail(http.StatusUnauthorized, "APIG.0301", "Incorrect IAM authentication information: the access key is locked after repeated failures, try again in 5 minutes")
		}
	}
	secretFor := func(ak string) (string, bool) {
		if subtle.ConstantTimeCompare([]byte(ak), []byte(s.opts.AccessKey)) == 1 {
			return s.opts.SecretKey, true
		}
		return "", false
	}
	if err := codearts.VerifySignature(r, body, secretFor, now, maxSkew); err != nil {
		s.noteAKFailure(now)
		if errors.Is(err, codearts.ErrClockSkew) {
			return fail(http.StatusUnauthorized, "APIG.0303", "Incorrect app authentication information: the X-Sdk-Date is more than 15 minutes away from the server time")
		}
		return fail(http.StatusUnauthorized, "APIG.0301", "Incorrect IAM authentication information: verify aksk signature fail")
	}
	s.authMu.Lock()
	s.akFails = 0
	s.authMu.Unlock()
	pid := r.Header.Get("X-Project-Id")
	if pid == "" {
		return fail(http.StatusUnauthorized, "APIG.0301", "Incorrect IAM authentication information: X-Project-Id is required with AK/SK")
	}
	if s.opts.ProjectID != "" && pid != s.opts.ProjectID {
		return fail(http.StatusForbidden, "APIGW.0310", "The project is unavailable: unknown X-Project-Id")
	}
	return true
}

// noteAKFailure counts consecutive signature failures; with AKLockout, the
// sixth locks the key for 5 minutes.
func (s *Server) noteAKFailure(now time.Time) {
	if !s.opts.AKLockout {
		return
	}
	s.authMu.Lock()
	defer s.authMu.Unlock()
	s.akFails++
	if s.akFails > 5 {
		s.akLocked = now.Add(5 * time.Minute).UnixMilli()
		s.akFails = 0
	}
}

// iamRequest is the body of POST /v3/auth/tokens (docs/api-reference.md §11.2).
type iamRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope struct {
			Project *struct {
				Name string `json:"name"`
				ID   string `json:"id"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

// handleIAMToken serves the IAM password → token call. It is not subject
// to fault injection (IAM is a different service). Errors use the flat
// {"error_code","error_msg"} shape.
func (s *Server) handleIAMToken(w http.ResponseWriter, r *http.Request) {
	if s.opts.IAMUser == "" {
		s.cbError(w, http.StatusUnauthorized, "IAM.0004", "password authentication is not enabled in this simulator")
		return
	}
	var req iamRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		s.cbError(w, http.StatusBadRequest, "IAM.0011", "Request body is invalid.")
		return
	}
	id := req.Auth.Identity
	u := id.Password.User
	hasPassword := false
	for _, m := range id.Methods {
		hasPassword = hasPassword || m == "password"
	}
	if !hasPassword {
		s.cbError(w, http.StatusBadRequest, "IAM.0011", "Request body is invalid: methods must contain \"password\".")
		return
	}
	if subtle.ConstantTimeCompare([]byte(u.Name), []byte(s.opts.IAMUser)) != 1 ||
		subtle.ConstantTimeCompare([]byte(u.Password), []byte(s.opts.IAMPassword)) != 1 ||
		subtle.ConstantTimeCompare([]byte(u.Domain.Name), []byte(s.opts.IAMDomain)) != 1 {
		s.cbError(w, http.StatusUnauthorized, "IAM.0004", "The username or password is wrong.")
		return
	}
	sc := req.Auth.Scope.Project
	if sc == nil || (sc.Name == "" && sc.ID == "") {
		s.cbError(w, http.StatusBadRequest, "IAM.0011", "CodeArts Build needs a project-scoped token: scope.project.name or .id is required.")
		return
	}
	if sc.ID != "" && s.opts.ProjectID != "" && sc.ID != s.opts.ProjectID {
		s.cbError(w, http.StatusBadRequest, "IAM.0011", "Unknown project id in scope.project.id.")
		return
	}
	now := s.clock.Now()
	exp := now.Add(s.opts.IAMTokenTTL)

	s.authMu.Lock()
	for t, e := range s.tokens {
		if e <= now.UnixMilli() {
			delete(s.tokens, t)
		}
	}
	s.tokenSeq++
	tok := s.newToken(s.tokenSeq, now)
	s.tokens[tok] = exp.UnixMilli()
	s.authMu.Unlock()

	projectID, projectName := sc.ID, sc.Name
	if projectID == "" {
		projectID = s.opts.ProjectID
	}
	if projectName == "" {
		projectName = "cn-north-4"
	}
	w.Header().Set("X-Subject-Token", tok)
	type named struct {
		Name string `json:"name"`
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": map[string]any{
			"expires_at": exp.UTC().Format("2006-01-02T15:04:05.000000Z"),
			"issued_at":  now.UTC().Format("2006-01-02T15:04:05.000000Z"),
			"methods":    []string{"password"},
			"project":    map[string]any{"id": projectID, "name": projectName, "domain": named{s.opts.IAMDomain}},
			"user":       map[string]any{"name": s.opts.IAMUser, "domain": named{s.opts.IAMDomain}},
		},
	})
}

// newToken makes a token that looks like IAM's (long, base64, starts with
// MII). Called with authMu held.
func (s *Server) newToken(n uint64, now time.Time) string {
	var raw []byte
	h := mix(s.seed, uint64(now.UnixNano()), n, saltToken)
	for len(raw) < 1200 {
		h = splitmix64(h)
		raw = binary.BigEndian.AppendUint64(raw, h)
	}
	return "MII" + strings.TrimRight(base64.StdEncoding.EncodeToString(raw), "=")
}
