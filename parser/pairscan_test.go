package parser

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand/v2"
	"testing"
)

// pairEngineDigest is a SHA-256 of everything newPairEngine chose: the
// nibble tables of the buckets and, for every lookup slot, the literals
// anchored there with their offsets.
func pairEngineDigest(pe *pairEngine) string {
	h := sha256.New()
	h.Write(pe.t.lo0[:])
	h.Write(pe.t.hi0[:])
	h.Write(pe.t.lo1[:])
	h.Write(pe.t.hi1[:])
	slots := func(name string, t []uint16) {
		for i, k := range t {
			if k != 0 {
				fmt.Fprintf(h, "%s %d:", name, i)
				writeEntries(h, pe.lists[k-1])
			}
		}
	}
	slots("fwd", pe.fwd[:])
	slots("back", pe.back[:])
	if pe.two != nil {
		slots("two", pe.two[:])
	}
	slots("single", pe.single[:])
	return hex.EncodeToString(h.Sum(nil))
}

func writeEntries(h hash.Hash, l []anchorEntry) {
	for _, e := range l {
		fmt.Fprintf(h, " %d@%d%q", e.rule, e.off, e.lit)
	}
	h.Write([]byte{'\n'})
}

// The pair engine of the default rules is what the benchmarks and the
// failure corpus were measured with: its buckets and anchors stay the same
// when the way they are computed changes (the values were taken at the
// commit that added this test).
func TestDefaultPairEnginesPinned(t *testing.T) {
	avx2 := useAVX2
	useAVX2 = true // newPairEngine is plain Go: it runs on any machine
	defer func() { useAVX2 = avx2 }()
	sev, err := CompileRules(defaultRuleConfigs)
	if err != nil {
		t.Fatal(err)
	}
	fail, err := CompileFailureRules(defaultFailureRuleConfigs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		pe             *pairEngine
		tables, digest string // lo0 hi0 lo1 hi1; pairEngineDigest
	}{
		{"severity", sev.pairs,
			"00815000004802002000000000000400 000000008a4005300000000000000000 000218a0000000400024000001004002 00000000c20825100000000000000000",
			"68a587523d6482d50ec5e3dc76446376a0874ce40ad6418d3700e080769ee45f"},
		{"failure", fail.m.pairs,
			"2200938084884004024008000100041c 00002804d90245128000000000000000 0cc81002200888000002010001401084 000008051a28e7100000000000008000",
			"006176e0f7d99168181f0724fb62dee2a5ad9c4e74f9053ae293aa1d70907e80"},
	} {
		pt := &tc.pe.t
		if got := fmt.Sprintf("%x %x %x %x", pt.lo0[:16], pt.hi0[:16], pt.lo1[:16], pt.hi1[:16]); got != tc.tables {
			t.Errorf("%s rules: bucket tables\n%s\nwant\n%s", tc.name, got, tc.tables)
		}
		if got := pairEngineDigest(tc.pe); got != tc.digest {
			t.Errorf("%s rules: pair engine digest %s, want %s", tc.name, got, tc.digest)
		}
	}
}

// pairBucket.cost, which sums by nibbles and rows, is the sum of pairFreq
// over every pair the bucket lets through.
func TestPairBucketCost(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for n := range 2000 {
		var b pairBucket
		for i, set := range []*uint16{&b.first[0], &b.first[1], &b.second[0], &b.second[1]} {
			switch rnd.IntN(4) {
			case 0:
				*set = 0xffff // the second byte of a one-byte literal's pair
			case 1:
				*set = 0
			default:
				x, y := rnd.Uint32(), rnd.Uint32()
				*set = uint16(x & y) // about four nibbles
			}
			if i < 2 && *set == 0xffff && rnd.IntN(2) == 0 {
				*set = 1 << rnd.IntN(16)
			}
		}
		var want int64
		for c := range 256 {
			for d := range 256 {
				if b.first[0]&(1<<(c&15)) != 0 && b.first[1]&(1<<(c>>4)) != 0 &&
					b.second[0]&(1<<(d&15)) != 0 && b.second[1]&(1<<(d>>4)) != 0 {
					want += int64(pairFreq(byte(c), byte(d)))
				}
			}
		}
		if got := b.cost(); got != want {
			t.Fatalf("bucket %d %+v: cost %d, want %d", n, b, got, want)
		}
	}
}
