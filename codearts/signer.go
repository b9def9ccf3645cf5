package codearts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Signing constants of the SDK-HMAC-SHA256 scheme (docs/api-reference.md §11.1).
const (
	signAlgorithm  = "SDK-HMAC-SHA256"
	sdkDateLayout  = "20060102T150405Z"
	headerSdkDate  = "X-Sdk-Date"
	headerProject  = "X-Project-Id"
	headerSecToken = "X-Security-Token"
	headerAuth     = "Authorization"
)

// Errors returned (wrapped) by VerifySignature, so that a server can pick the
// gateway code to answer with (APIG.0301 for a bad signature, APIG.0303 for a
// clock that is more than the allowed skew off).
var (
	ErrMalformedAuthorization = errors.New("malformed SDK-HMAC-SHA256 Authorization")
	ErrUnknownAccessKey       = errors.New("unknown access key")
	ErrSignatureMismatch      = errors.New("verify aksk signature fail")
	ErrClockSkew              = errors.New("X-Sdk-Date too far from server clock")
)

// Signer signs requests with Huawei Cloud's SDK-HMAC-SHA256 AK/SK scheme.
// It signs host, x-project-id (when ProjectID is set), x-sdk-date and, with
// temporary credentials, x-security-token — the reference's recommendation
// (§11.1), which reproduces its worked examples A and B byte for byte.
type Signer struct {
	AccessKey, SecretKey, ProjectID, SecurityToken string

	// cache, when set, keeps what signatures can share (the Client sets
	// it, newSignerCache); a Signer without it computes everything anew.
	cache *signerCache
}

// signerCache is what the signatures of one Signer share.
type signerCache struct {
	// macs keeps HMAC-SHA256 states (*macState) keyed with the secret for
	// reuse: a reset state starts from the key's hashed pads, two of the
	// dozen or so SHA-256 blocks a signature otherwise costs.
	macs sync.Pool
	// date is the X-Sdk-Date of the last second signed: formatting it
	// was a third of a signature's cost.
	date atomic.Pointer[sdkDate]
}

type sdkDate struct {
	unix int64
	text string
}

// newSignerCache returns a signerCache for secret.
func newSignerCache(secret string) *signerCache {
	key := []byte(secret)
	c := &signerCache{}
	c.macs.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return c
}

// sdkDate returns now's X-Sdk-Date, formatted once per second with a cache.
func (s Signer) sdkDate(now time.Time) string {
	sec := now.Unix()
	if s.cache != nil {
		if d := s.cache.date.Load(); d != nil && d.unix == sec {
			return d.text
		}
	}
	var buf [len(sdkDateLayout)]byte
	text := string(now.UTC().AppendFormat(buf[:0], sdkDateLayout))
	if s.cache != nil {
		s.cache.date.Store(&sdkDate{unix: sec, text: text})
	}
	return text
}

// macState is an HMAC-SHA256 state with the buffers of one signature: what
// is written to or summed by a hash.Hash escapes, so they would otherwise
// be allocated for every signature.
type macState struct {
	h   hash.Hash
	sts [128]byte
	sum [sha256.Size]byte
}

// emptySHA256 is the SHA-256 of no bytes, the payload hash of every GET.
var emptySHA256 = sha256.Sum256(nil)

// Sign sets X-Sdk-Date (from now), X-Project-Id, X-Security-Token (when set)
// and Authorization on req. It rewrites req.URL.RawQuery into the canonical
// form (sorted, RFC 3986 escaping, space as %20) so that the query sent on
// the wire is exactly the one signed. body must be the exact bytes sent (nil
// for GET). Call it again for every attempt: the date is part of the signature.
func (s Signer) Sign(req *http.Request, body []byte, now time.Time) error {
	if s.AccessKey == "" || s.SecretKey == "" {
		return errors.New("codearts signer: access key and secret key are required")
	}
	if req == nil || req.URL == nil {
		return errors.New("codearts signer: request without URL")
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("codearts signer: bad query string: %w", err)
	}
	req.URL.RawQuery = canonicalQuery(q)
	return s.sign(req, body, now)
}

// Signed header lists, lower-case and sorted, by what the Signer sends.
var (
	signedBase    = []string{"host", "x-sdk-date"}
	signedProject = []string{"host", "x-project-id", "x-sdk-date"}
	signedToken   = []string{"host", "x-sdk-date", "x-security-token"}
	signedBoth    = []string{"host", "x-project-id", "x-sdk-date", "x-security-token"}
)

// sign is Sign for a request whose RawQuery is in canonical form already
// (the Client builds it so once per call, not once per attempt and step).
// It runs for every page read, so the canonical request and the string to
// sign are built in stack buffers and hashed there, not as strings.
func (s Signer) sign(req *http.Request, body []byte, now time.Time) error {
	date := s.sdkDate(now)
	// The values of the four headers set here share one allocation.
	vals := new([4]string)
	vals[0], vals[1], vals[2] = date, s.ProjectID, s.SecurityToken
	req.Header[headerSdkDate] = vals[0:1:1]
	signed, signedList := signedBase, "host;x-sdk-date"
	if s.ProjectID != "" {
		req.Header[headerProject] = vals[1:2:2]
		signed, signedList = signedProject, "host;x-project-id;x-sdk-date"
	}
	if s.SecurityToken != "" {
		req.Header[headerSecToken] = vals[2:3:3]
		signed, signedList = signedToken, "host;x-sdk-date;x-security-token"
		if s.ProjectID != "" {
			signed, signedList = signedBoth, "host;x-project-id;x-sdk-date;x-security-token"
		}
	}
	var crBuf [1024]byte
	cr, err := appendCanonicalRequest(crBuf[:0], req, signed, body, req.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("codearts signer: %w", err)
	}
	var m *macState
	if s.cache != nil {
		m = s.cache.macs.Get().(*macState)
		m.h.Reset()
		defer s.cache.macs.Put(m)
	} else {
		m = &macState{h: hmac.New(sha256.New, []byte(s.SecretKey))}
	}
	m.h.Write(appendStringToSign(m.sts[:0], date, cr))
	auth := make([]byte, 0, 256)
	auth = append(auth, signAlgorithm+" Access="...)
	auth = append(auth, s.AccessKey...)
	auth = append(auth, ", SignedHeaders="...)
	auth = append(auth, signedList...)
	auth = append(auth, ", Signature="...)
	auth = hex.AppendEncode(auth, m.h.Sum(m.sum[:0]))
	vals[3] = string(auth)
	req.Header[headerAuth] = vals[3:4:4]
	return nil
}

// VerifySignature checks an SDK-HMAC-SHA256 signed request the way the API
// gateway does: it parses Authorization, looks the secret up with secretFor,
// rebuilds the canonical request from the headers the client listed as
// signed (x-sdk-date is mandatory) and compares signatures in constant time.
// If maxSkew > 0, an X-Sdk-Date further than maxSkew from now fails with
// ErrClockSkew (the real gateway allows 15 minutes). Errors wrap one of the
// Err* values above and never contain the secret or the expected signature.
func VerifySignature(req *http.Request, body []byte, secretFor func(accessKey string) (secret string, ok bool), now time.Time, maxSkew time.Duration) error {
	access, signed, got, err := parseAuthorization(req.Header.Get(headerAuth))
	if err != nil {
		return err
	}
	hasDate := false
	for _, h := range signed {
		if h == "x-sdk-date" {
			hasDate = true
		}
	}
	date := req.Header.Get(headerSdkDate)
	if !hasDate || date == "" {
		return fmt.Errorf("%w: x-sdk-date must be present and signed", ErrMalformedAuthorization)
	}
	t, err := time.Parse(sdkDateLayout, date)
	if err != nil {
		return fmt.Errorf("%w: X-Sdk-Date %q is not YYYYMMDDTHHMMSSZ", ErrMalformedAuthorization, date)
	}
	if maxSkew > 0 {
		if d := now.Sub(t); d > maxSkew || d < -maxSkew {
			return fmt.Errorf("%w: X-Sdk-Date %s, server time %s", ErrClockSkew, date, now.UTC().Format(sdkDateLayout))
		}
	}
	secret, ok := secretFor(access)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAccessKey, access)
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("%w: bad query string: %v", ErrMalformedAuthorization, err)
	}
	cr, err := canonicalRequest(req, signed, body, canonicalQuery(q))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedAuthorization, err)
	}
	want := signature(secret, stringToSign(date, cr))
	if !hmac.Equal([]byte(want), []byte(got)) {
		return ErrSignatureMismatch
	}
	return nil
}

// parseAuthorization splits
// "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(v string) (access string, signed []string, sig string, err error) {
	rest, ok := strings.CutPrefix(v, signAlgorithm+" ")
	if !ok {
		return "", nil, "", fmt.Errorf("%w: missing or not %s", ErrMalformedAuthorization, signAlgorithm)
	}
	var sh string
	for _, item := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", nil, "", fmt.Errorf("%w: item without '='", ErrMalformedAuthorization)
		}
		switch k {
		case "Access":
			access = val
		case "SignedHeaders":
			sh = val
		case "Signature":
			sig = val
		}
	}
	if access == "" || sh == "" || sig == "" {
		return "", nil, "", fmt.Errorf("%w: Access, SignedHeaders and Signature are required", ErrMalformedAuthorization)
	}
	signed = strings.Split(sh, ";")
	for i, h := range signed {
		signed[i] = strings.ToLower(strings.TrimSpace(h))
	}
	sort.Strings(signed)
	return access, signed, sig, nil
}

// canonicalRequest builds the six-part canonical request of docs/api-reference.md §11.1
// step 2. signed must be lower-case and sorted, query canonical.
func canonicalRequest(req *http.Request, signed []string, body []byte, query string) (string, error) {
	b, err := appendCanonicalRequest(nil, req, signed, body, query)
	return string(b), err
}

// appendCanonicalRequest appends canonicalRequest's text to b.
func appendCanonicalRequest(b []byte, req *http.Request, signed []string, body []byte, query string) ([]byte, error) {
	b = appendUpper(b, req.Method)
	b = append(b, '\n')
	b = appendCanonicalURI(b, req.URL.Path)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	for _, h := range signed {
		var v string
		if h == "host" {
			v = req.Host
			if v == "" {
				v = req.URL.Host
			}
		} else {
			vals := req.Header[canonicalHeaderKey(h)]
			if len(vals) == 0 {
				return nil, fmt.Errorf("signed header %q missing", h)
			}
			v = vals[0]
			if len(vals) > 1 {
				v = strings.Join(vals, ",")
			}
		}
		b = append(b, h...)
		b = append(b, ':')
		b = append(b, strings.TrimSpace(v)...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	for i, h := range signed {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	sum := emptySHA256
	if len(body) > 0 {
		sum = sha256.Sum256(body)
	}
	return hex.AppendEncode(b, sum[:]), nil
}

// canonicalHeaderKey is http.CanonicalHeaderKey without its allocation for
// the headers the Signer itself signs.
func canonicalHeaderKey(h string) string {
	switch h {
	case "x-sdk-date":
		return headerSdkDate
	case "x-project-id":
		return headerProject
	case "x-security-token":
		return headerSecToken
	}
	return http.CanonicalHeaderKey(h)
}

func appendUpper(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

func stringToSign(date, canonical string) string {
	return string(appendStringToSign(nil, date, []byte(canonical)))
}

func appendStringToSign(b []byte, date string, canonical []byte) []byte {
	sum := sha256.Sum256(canonical)
	b = append(b, signAlgorithm+"\n"...)
	b = append(b, date...)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum[:])
}

func signature(secret, sts string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

// canonicalURI escapes every path segment and appends the signing-only '/'.
func canonicalURI(path string) string {
	return string(appendCanonicalURI(nil, path))
}

func appendCanonicalURI(b []byte, path string) []byte {
	for {
		seg, rest, more := strings.Cut(path, "/")
		b = appendEscape(b, seg)
		if !more {
			break
		}
		b = append(b, '/')
		path = rest
	}
	if len(b) == 0 || b[len(b)-1] != '/' {
		b = append(b, '/')
	}
	return b
}

// canonicalQuery encodes names and values with escape, keeps "name=" for
// empty values, sorts by name then value (byte order) and joins with '&'.
func canonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, kv{escape(k), escape(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// escape percent-encodes every byte except A-Z a-z 0-9 - _ . ~, with
// upper-case hex digits (so space is %20, never '+').
func escape(s string) string {
	return string(appendEscape(make([]byte, 0, len(s)), s))
}

func appendEscape(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}
