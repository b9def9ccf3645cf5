//go:build !amd64

package cpuid

// AVX2 is false but on amd64.
const AVX2 = false
