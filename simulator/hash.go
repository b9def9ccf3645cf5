package simulator

import (
	"math/rand/v2"
)

// Everything random in the simulator is derived from Options.Seed by
// hashing, never from a shared random stream: the content of build 7 of a
// job, the size of the page that starts at a given cursor, whether a given
// request is faulted. That makes the world independent of the order in which
// clients ask about it, and the same for the same seed and clock.

// splitmix64 is the finaliser of the SplitMix64 generator: a cheap,
// well-mixing bijection on uint64.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// mix hashes a sequence of words into one.
func mix(parts ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc908)
	for _, p := range parts {
		h = splitmix64(h ^ p)
	}
	return h
}

// hashString is FNV-1a, used to turn ids and names into words for mix.
func hashString(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// newRand returns a deterministic generator seeded from a hash.
func newRand(h uint64) *rand.Rand {
	return rand.New(rand.NewPCG(h, splitmix64(h^0x5bd1e995)))
}

// Salts that keep the hash streams of different purposes apart.
const (
	saltJitter uint64 = iota + 1
	saltPlan
	saltContent
	saltBase
	saltChunk
	saltEmpty
	saltFormat
	saltFault
	saltFaultKind
	saltRequestID
	saltToken
)
