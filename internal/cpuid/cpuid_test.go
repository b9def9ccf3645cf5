package cpuid

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// AVX2 agrees with the flags Linux reports for the CPU (it lists avx2
// only where the kernel saves the Y registers).
func TestAVX2MatchesProcCPUInfo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/cpuinfo is Linux's")
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	var flags []string
	for line := range strings.Lines(string(info)) {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			flags = strings.Fields(value)
			break
		}
	}
	if flags == nil {
		t.Skip("no flags line in /proc/cpuinfo")
	}
	want := runtime.GOARCH == "amd64" && slices.Contains(flags, "avx2")
	if AVX2 != want {
		t.Errorf("AVX2 = %v, /proc/cpuinfo says %v", AVX2, want)
	}
}
