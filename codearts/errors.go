package codearts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// APIError is every error a Client operation returns: an HTTP error answer,
// a 200 with status "fail", an undecodable body, a transport failure (HTTP
// status 0, Err set) or a call refused locally (bad argument, auth pause).
// Its text names the operation, the job, build and step, the HTTP status,
// the CB/APIG code, the message and the request id, and never a secret.
type APIError struct {
	Op         string // operation, e.g. ShowConsoleInfo (the api label of the self-metrics)
	JobID      string
	BuildNo    int64
	StepID     int64
	RecordID   string
	HTTPStatus int    // 0 when no response arrived
	Code       string // CB.xxxxxxxx, APIG.xxxx, APIGW.xxxx, IAM code …; "" if none
	Message    string
	RequestID  string        // X-Request-Id header or request_id body field
	RetryAfter time.Duration // from Retry-After, when the server sent one
	Attempts   int           // HTTP attempts made (0 when refused before sending)
	Err        error         // underlying cause (transport, context, decoding, IAM), if any

	hasStep bool
	paused  bool // refused locally during the auth-failure pause
}

// Error implements error, e.g.
// "ShowConsoleInfo job=… build=12 step=81: HTTP 500 CB.00060101 internal service error (request id …)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.JobID != "" {
		b.WriteString(" job=" + e.JobID)
	}
	if e.BuildNo != 0 {
		b.WriteString(" build=" + strconv.FormatInt(e.BuildNo, 10))
	}
	if e.hasStep || e.StepID != 0 {
		b.WriteString(" step=" + strconv.FormatInt(e.StepID, 10))
	}
	if e.RecordID != "" {
		b.WriteString(" record=" + e.RecordID)
	}
	b.WriteString(":")
	if e.HTTPStatus != 0 {
		b.WriteString(" HTTP " + strconv.Itoa(e.HTTPStatus))
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		b.WriteString(" " + msg)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	if e.Attempts > 1 {
		b.WriteString(" (after " + strconv.Itoa(e.Attempts) + " attempts)")
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *APIError) Unwrap() error { return e.Err }

// Throttled reports whether the answer is a rate-limit rejection: HTTP 429 or
// code APIG.0308 / APIGW.0308 / CB.00060211 at any HTTP status (docs/api-reference.md §9.5).
func (e *APIError) Throttled() bool {
	if e.HTTPStatus == http.StatusTooManyRequests {
		return true
	}
	switch gatewayCode(e.Code) {
	case "0308", "CB.00060211":
		return true
	}
	return false
}

// Auth reports an authentication failure: HTTP 401 or APIG(W).0301/0303/0307.
func (e *APIError) Auth() bool {
	if e.paused || e.HTTPStatus == http.StatusUnauthorized {
		return true
	}
	switch gatewayCode(e.Code) {
	case "0301", "0303", "0307":
		return true
	}
	return false
}

// Temporary reports whether retrying later may succeed: no response
// (transport error or timeout), HTTP 5xx, or throttling. It is what the
// client itself retries.
func (e *APIError) Temporary() bool {
	if e.Throttled() {
		return true
	}
	if e.Attempts == 0 || errors.Is(e.Err, ErrResponseTooLarge) {
		// Refused locally (bad argument, auth pause), or an answer the
		// same request would get again.
		return false
	}
	if e.HTTPStatus == 0 {
		return e.Err != nil && !errors.Is(e.Err, errDecode)
	}
	return e.HTTPStatus >= 500
}

// gatewayCode strips the APIG./APIGW. prefix so both spellings match.
func gatewayCode(code string) string {
	if c, ok := strings.CutPrefix(code, "APIGW."); ok {
		return c
	}
	if c, ok := strings.CutPrefix(code, "APIG."); ok {
		return c
	}
	return code
}

func asAPIError(err error) *APIError {
	var e *APIError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsThrottled reports whether err is a rate-limit rejection (see APIError.Throttled).
func IsThrottled(err error) bool { e := asAPIError(err); return e != nil && e.Throttled() }

// IsAuth reports whether err is an authentication failure (see APIError.Auth),
// including a call refused because a recent one failed authentication.
func IsAuth(err error) bool { e := asAPIError(err); return e != nil && e.Auth() }

// IsForbidden reports HTTP 403 (not allowed, project unavailable, IP refused).
func IsForbidden(err error) bool {
	e := asAPIError(err)
	return e != nil && e.HTTPStatus == http.StatusForbidden
}

// IsNotFound reports HTTP 404, CB.00060214 (URL not found) or APIG(W).0101
// (API not found: usually a wrong endpoint host).
func IsNotFound(err error) bool {
	e := asAPIError(err)
	if e == nil {
		return false
	}
	return e.HTTPStatus == http.StatusNotFound || e.Code == "CB.00060214" || gatewayCode(e.Code) == "0101"
}

// IsInvalidParam reports a rejected request parameter: CB.00060200 (invalid
// parameter), CB.00060201 (invalid job id), CB.00060202 (invalid id), or any
// other HTTP 400 that is not throttling. The collector uses it (with
// IsNotFound) to fall back from record id to build_record_id (docs/api-reference.md §12 Q3).
func IsInvalidParam(err error) bool {
	e := asAPIError(err)
	if e == nil || e.Throttled() {
		return false
	}
	switch e.Code {
	case "CB.00060200", "CB.00060201", "CB.00060202":
		return true
	}
	return e.HTTPStatus == http.StatusBadRequest
}

// IsResponseTooLarge reports an answer over Options.MaxResponseBytes.
func IsResponseTooLarge(err error) bool { return errors.Is(err, ErrResponseTooLarge) }

// IsTemporary reports whether retrying later may succeed (see APIError.Temporary).
func IsTemporary(err error) bool { e := asAPIError(err); return e != nil && e.Temporary() }

// errDecode marks an undecodable success body (not retried).
var errDecode = errors.New("decode response")

var codePattern = regexp.MustCompile(`\b(?:CB\.\d{8}|APIGW?\.\d{4}|DEV\.CB\.\d+)\b`)

// wrongEndpointHint is how an answer that is not the CodeArts API's is
// reported, instead of quoting it: it is typically the HTML error page of a
// host that is not the CodeArts gateway, or of a path it does not serve.
const wrongEndpointHint = "check codearts.endpoint and the job id"

// notAPIAnswer describes a body that is not JSON and names no CodeArts or
// gateway code, without quoting it; "" for anything else (an empty body
// included).
func notAPIAnswer(h http.Header, body []byte) string {
	text := bytes.TrimSpace(body)
	if len(text) == 0 || json.Valid(text) || codePattern.Match(text) {
		return ""
	}
	ct := h.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); mt != "" {
		ct = strings.TrimSpace(mt)
	}
	what := "a body that is not JSON"
	switch {
	case strings.Contains(ct, "html") || text[0] == '<':
		what = "an HTML page"
	case ct != "":
		what = "a " + truncate(ct, 64) + " body"
	}
	return fmt.Sprintf("not an answer of the CodeArts API (%s of %d bytes): %s", what, len(body), wrongEndpointHint)
}

// errorInfo is what an error body says, whatever its shape (docs/api-reference.md §9.1).
type errorInfo struct{ code, message, requestID string }

// parseErrorBody reads the code, message and request id from any of the
// documented error shapes: {"error_code","error_msg","request_id"},
// {"status":"fail","error":"…"|{…}}, {"code","message"} at the top level or
// nested one level under any key. A non-JSON body gives its first line as
// message. Nothing is shortened here: the caller redacts, then truncates.
func parseErrorBody(body []byte) errorInfo {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		text := strings.TrimSpace(string(body))
		if i := strings.IndexAny(text, "\r\n"); i >= 0 {
			text = text[:i]
		}
		info := errorInfo{message: text}
		info.code = codePattern.FindString(text)
		return info
	}
	info := codeFields(top)
	if info.code == "" || info.message == "" {
		// "error" first (the envelope's field), then every other object value.
		keys := []string{"error"}
		for k := range top {
			if k != "error" {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			raw, ok := top[k]
			if !ok {
				continue
			}
			raw = bytes.TrimSpace(raw)
			if len(raw) == 0 {
				continue
			}
			switch raw[0] {
			case '{':
				var inner map[string]json.RawMessage
				if json.Unmarshal(raw, &inner) == nil {
					in := codeFields(inner)
					if info.code == "" {
						info.code = in.code
					}
					if info.message == "" {
						info.message = in.message
					}
					if info.requestID == "" {
						info.requestID = in.requestID
					}
				}
			case '"':
				if k == "error" && info.message == "" {
					var s string
					if json.Unmarshal(raw, &s) == nil {
						info.message = s
					}
				}
			}
		}
	}
	if info.code == "" {
		info.code = codePattern.FindString(info.message)
	}
	info.message = strings.TrimSpace(info.message)
	return info
}

func codeFields(m map[string]json.RawMessage) errorInfo {
	var info errorInfo
	info.code = firstString(m, "error_code", "code", "errorCode")
	info.message = firstString(m, "error_msg", "message", "msg", "error_message", "errorMessage")
	info.requestID = firstString(m, "request_id", "requestId")
	return info
}

func firstString(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		raw, ok := m[k]
		if !ok {
			continue
		}
		var f flexString
		if json.Unmarshal(raw, &f) == nil && f != "" {
			return string(f)
		}
	}
	return ""
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 86400 {
			n = 86400
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// throttlePattern reads APIG.0308's "limit:10,time:1 minute".
var throttlePattern = regexp.MustCompile(`limit:\s*(\d+)\s*,\s*time:\s*(\d+)\s*(second|minute|hour|day)`)

// throttleRate returns the requests per second an APIG.0308 message states,
// or 0 when it states none.
func throttleRate(msg string) float64 {
	m := throttlePattern.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	limit, _ := strconv.ParseFloat(m[1], 64)
	n, _ := strconv.ParseFloat(m[2], 64)
	unit := map[string]float64{"second": 1, "minute": 60, "hour": 3600, "day": 86400}[m[3]]
	if limit <= 0 || n <= 0 {
		return 0
	}
	return limit / (n * unit)
}
