package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// A value of the wrong type is reported once, not again by the checks of the
// default it left behind; problems elsewhere in the file are still reported.
func TestTypeErrorsNotRepeated(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"jobs not a list", `codearts:
  endpoint: https://cloudbuild-ext.cn-north-4.myhuaweicloud.com
  project_id: p1
  auth: {token: T}
jobs: backend-ci
`, []string{"x.yml:5: jobs: expected a list, got \"backend-ci\""}},
		{"secret_key a list, endpoint bad", `codearts:
  endpoint: ftp://x
  project_id: p1
  auth:
    access_key: AK
    secret_key: [oops]
jobs: [{id: 0123456789abcdef0123456789abcdef}]
`, []string{"x.yml:2: codearts.endpoint", "x.yml:6: codearts.auth.secret_key: expected a string, got a list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("x.yml", []byte(tc.yaml), noEnv)
			var list ErrorList
			require.True(t, errors.As(err, &list), "%v", err)
			require.Len(t, list, len(tc.want), "%v", err)
			for i, w := range tc.want {
				require.Contains(t, list[i].Error(), w)
			}
		})
	}
}
