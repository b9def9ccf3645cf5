package cpuid

// AVX2 reports whether the CPU has AVX2 and the operating system saves
// the Y registers.
var AVX2 = hasAVX2()

func hasAVX2() bool
