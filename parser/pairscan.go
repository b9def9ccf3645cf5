package parser

import (
	"math/bits"
	"slices"
	"unsafe"
)

// With AVX2, the rules' literals are found by pairs of adjacent bytes
// instead of single anchor bytes: every literal of two bytes or more is
// anchored at the pair of its bytes whose occurrences are estimated rarest,
// and one pass over a message (maskPairs, in anchorscan_amd64.s) marks the
// positions where a pair of some literal may start. A single byte, even a
// rare one, sits next to many different bytes; most pairs of two rare
// bytes never occur in a log, so the literals are checked at few
// positions.
//
// The pass tests both bytes of every position against eight buckets at
// once, the way the Teddy algorithm of Hyperscan does: each bucket holds
// some of the pairs, and a position passes when its first byte's nibbles
// and its second byte's nibbles all have the bit of one bucket. A bucket
// lets through every combination of the nibbles of its pairs' bytes, so
// pairs are put in buckets to keep the estimated extra positions few
// (pairEngine.assign); the positions that pass are looked up exactly
// (pairEngine.idx).

// pairTables are the four nibble tables of maskPairs, each stored twice
// (one AVX2 register), then the 0x0f mask: a position with bytes c, d
// passes when lo0[c&15] & hi0[c>>4] & lo1[d&15] & hi1[d>>4] != 0.
type pairTables struct {
	lo0, hi0, lo1, hi1, mask [32]byte
}

// pass reports whether the pair c, d passes (the reference for maskPairs).
func (t *pairTables) pass(c, d byte) bool {
	return t.lo0[c&15]&t.hi0[c>>4]&t.lo1[d&15]&t.hi1[d>>4] != 0
}

// maskPairsGeneric is the portable maskPairs, the reference the amd64
// version is tested against: a bit per position i < n-1 of p[:n] (n <= 65)
// whose pair passes.
func maskPairsGeneric(p *byte, n int, t *pairTables) uint64 {
	b := unsafe.Slice(p, n)
	var m uint64
	for i := 0; i+1 < n; i++ {
		if t.pass(b[i], b[i+1]) {
			m |= 1 << i
		}
	}
	return m
}

// pairEngine finds the literals of a Rules by pairs (AVX2 only).
type pairEngine struct {
	t pairTables
	// At a position that passes, the entries anchored at its pair are
	// looked up by three bytes: the pair and the byte after it (fwd), or
	// for a literal that ends with its pair, the byte before it and the
	// pair (back); two holds two-byte literals by the pair alone. Each maps
	// triHash (pairHash) to an index+1 into lists, in rule order; a hash
	// shared by other bytes at worst costs a comparison.
	fwd, back [4096]uint16
	two       *[4096]uint16
	// single maps a byte to an index+1 into lists: the one-byte literals.
	single    [256]uint16
	hasSingle bool
	lists     [][]anchorEntry
	minRule   int // the smallest rule of any entry
}

// pairHash maps a pair to an index of pairEngine.idx (Fibonacci hashing:
// the top 12 bits of the product).
func pairHash(c, d byte) int { return int((uint32(c)<<8 | uint32(d)) * 0x9e3779b1 >> 20) }

// triHash is pairHash for three bytes.
func triHash(b, c, d byte) int {
	return int((uint32(b)<<16 | uint32(c)<<8 | uint32(d)) * 0x9e3779b1 >> 20)
}

// pairCost estimates how often the pair at lit[off:off+2] occurs, per
// million bytes (pairFreq; both cases of a case-folded letter); a one-byte
// literal is its byte's cost times 100.
func pairCost(lit []byte, off int, fold bool) int64 {
	var buf [3][2]byte
	cases := func(i int, c byte) []byte { return foldCases(&buf[i], c, fold) }
	if off+1 >= len(lit) {
		n := int64(0)
		for _, c := range cases(0, lit[off]) {
			n += int64(byteCost(c)) * 100
		}
		return n
	}
	n := int64(0)
	for _, c := range cases(0, lit[off]) {
		for _, d := range cases(1, lit[off+1]) {
			n += int64(pairFreq(c, d))
		}
	}
	return n
}

// foldCases returns c and, if fold is set and c is an ASCII letter, its
// other case, in buf.
func foldCases(buf *[2]byte, c byte, fold bool) []byte {
	buf[0], buf[1] = c, c^0x20
	if fold && isASCIILetter(c) {
		return buf[:2]
	}
	return buf[:1]
}

// newPairEngine anchors each item at its rarest pair and builds the
// tables; items are in rule order.
func newPairEngine(items []anchorEntry, rules []compiledRule) *pairEngine {
	pe := &pairEngine{minRule: len(rules)}
	for i := range pe.t.mask {
		pe.t.mask[i] = 0x0f
	}
	type pair struct {
		c, d    byte
		anyNext bool
	}
	var pairs []pair
	seen := map[pair]bool{}
	chosen := coverPairs(items, rules)
	for _, e := range items {
		fold := rules[e.rule].fold
		e.off = -1
		for j := range e.lit {
			if j+1 < len(e.lit) && chosen[[2]byte(e.lit[j:j+2])] || len(e.lit) == 1 {
				if e.off < 0 || pairCost(e.lit, j, fold) < pairCost(e.lit, e.off, fold) {
					e.off = j
				}
			}
		}
		pe.minRule = min(pe.minRule, e.rule)
		var buf [3][2]byte
		cases := func(i int, c byte) []byte { return foldCases(&buf[i], c, fold) }
		for _, c := range cases(0, e.lit[e.off]) {
			if len(e.lit) == 1 {
				pe.hasSingle = true
				addList(&pe.lists, &pe.single[c], e)
				if p := (pair{c: c, anyNext: true}); !seen[p] {
					seen[p] = true
					pairs = append(pairs, p)
				}
				continue
			}
			for _, d := range cases(1, e.lit[e.off+1]) {
				switch {
				case e.off+2 < len(e.lit):
					for _, x := range cases(2, e.lit[e.off+2]) {
						addList(&pe.lists, &pe.fwd[triHash(c, d, x)], e)
					}
				case e.off > 0:
					for _, x := range cases(2, e.lit[e.off-1]) {
						addList(&pe.lists, &pe.back[triHash(x, c, d)], e)
					}
				default:
					if pe.two == nil {
						pe.two = new([4096]uint16)
					}
					addList(&pe.lists, &pe.two[pairHash(c, d)], e)
				}
				if p := (pair{c: c, d: d}); !seen[p] {
					seen[p] = true
					pairs = append(pairs, p)
				}
			}
		}
	}
	// Buckets: the commonest pairs first, each into the bucket where it
	// adds the fewest estimated passing positions (pairFreq of every pair
	// of a first and a second byte the bucket's nibbles let through).
	slices.SortStableFunc(pairs, func(a, b pair) int {
		ca, cb := int64(pairFreq(a.c, a.d)), int64(pairFreq(b.c, b.d))
		if a.anyNext {
			ca = int64(byteCost(a.c)) * 100
		}
		if b.anyNext {
			cb = int64(byteCost(b.c)) * 100
		}
		return int(min(max(cb-ca, -1), 1))
	})
	add := func(b pairBucket, p pair) pairBucket {
		b.first[0] |= 1 << (p.c & 15)
		b.first[1] |= 1 << (p.c >> 4)
		if p.anyNext {
			b.second = [2]uint16{0xffff, 0xffff}
		} else {
			b.second[0] |= 1 << (p.d & 15)
			b.second[1] |= 1 << (p.d >> 4)
		}
		return b
	}
	var (
		buckets [8]pairBucket
		costs   [8]int64 // of buckets
	)
	in := make([]int, len(pairs)) // the bucket of each pair
	for i, p := range pairs {
		best, bestDelta := 0, int64(-1)
		for k, b := range buckets {
			if delta := add(b, p).cost() - costs[k]; bestDelta < 0 || delta < bestDelta {
				best, bestDelta = k, delta
			}
		}
		buckets[best] = add(buckets[best], p)
		costs[best] = buckets[best].cost()
		in[i] = best
	}
	// Then move single pairs to another bucket while that lets fewer
	// positions through (a few rounds: this runs when rules compile).
	without := func(k, skip int) pairBucket {
		var b pairBucket
		for i, p := range pairs {
			if in[i] == k && i != skip {
				b = add(b, p)
			}
		}
		return b
	}
	for range 3 {
		moved := false
		for i, p := range pairs {
			from := in[i]
			rest := without(from, i)
			restCost := rest.cost()
			gain := costs[from] - restCost
			for k, b := range buckets {
				if k == from {
					continue
				}
				if to := add(b, p); to.cost()-costs[k] < gain {
					buckets[from], buckets[k] = rest, to
					costs[from], costs[k] = restCost, to.cost()
					in[i], moved = k, true
					break
				}
			}
		}
		if !moved {
			break
		}
	}
	for k, b := range buckets {
		for n := range 16 {
			if b.first[0]&(1<<n) != 0 {
				pe.t.lo0[n] |= 1 << k
			}
			if b.first[1]&(1<<n) != 0 {
				pe.t.hi0[n] |= 1 << k
			}
			if b.second[0]&(1<<n) != 0 {
				pe.t.lo1[n] |= 1 << k
			}
			if b.second[1]&(1<<n) != 0 {
				pe.t.hi1[n] |= 1 << k
			}
		}
	}
	for i := range 16 {
		pe.t.lo0[i+16], pe.t.hi0[i+16], pe.t.lo1[i+16], pe.t.hi1[i+16] = pe.t.lo0[i], pe.t.hi0[i], pe.t.lo1[i], pe.t.hi1[i]
	}
	return pe
}

// pairPassCost is what one more distinct pair costs, in pairCost units: the
// eight buckets of maskPairs hold all pairs, and each pair added to a
// bucket lets through more combinations of nibbles. Measured on the
// fixtures' messages, the failure rules let 38 positions per thousand bytes
// through at 3000 (36 pairs), 18 at 10,000 (26 pairs), 26 at 30,000.
const pairPassCost = 10000

// coverPairs chooses the pairs the literals are anchored at, by greedy
// weighted set cover: a pair costs pairPassCost plus its pairCost and
// covers every literal that contains it; few pairs keep the buckets
// selective.
func coverPairs(items []anchorEntry, rules []compiledRule) map[[2]byte]bool {
	// The distinct pairs of each literal (an index into keys, c<<8 | d)
	// and their costs for it (a case-folded literal counts both cases).
	type cand struct {
		x    int
		cost int64
	}
	var keys []int
	index := map[int]int{}
	per := make([][]cand, len(items))
	for k, e := range items {
		for j := 0; j+1 < len(e.lit); j++ {
			key := int(e.lit[j])<<8 | int(e.lit[j+1])
			x, ok := index[key]
			if !ok {
				x = len(keys)
				index[key] = x
				keys = append(keys, key)
			}
			if !slices.ContainsFunc(per[k], func(c cand) bool { return c.x == x }) {
				per[k] = append(per[k], cand{x, pairCost(e.lit, j, rules[e.rule].fold)})
			}
		}
	}
	chosen := map[[2]byte]bool{}
	covered := make([]bool, len(items))
	count := make([]int, len(keys))
	cost := make([]int64, len(keys)) // of the last literal not yet covered
	for {
		clear(count)
		for k := range items {
			if !covered[k] {
				for _, c := range per[k] {
					count[c.x]++
					cost[c.x] = c.cost
				}
			}
		}
		best, bestRatio := -1, -1.0
		for x, n := range count {
			if n == 0 {
				continue
			}
			// Each literal anchored at the pair is also compared wherever
			// it occurs: sharing a pair saves bucket space, not checks.
			ratio := float64(pairPassCost+cost[x])/float64(n) + float64(cost[x])
			if bestRatio < 0 || ratio < bestRatio || ratio == bestRatio && keys[x] < keys[best] {
				best, bestRatio = x, ratio
			}
		}
		if best < 0 {
			return chosen
		}
		chosen[[2]byte{byte(keys[best] >> 8), byte(keys[best])}] = true
		for k := range items {
			if !covered[k] && slices.ContainsFunc(per[k], func(c cand) bool { return c.x == best }) {
				covered[k] = true
			}
		}
	}
}

// pairBucket is a bucket of maskPairs: the nibble sets of its pairs' first
// bytes and second bytes, bit l of [0] for a low nibble l, bit h of [1] for
// a high nibble h. It lets through every pair of a first byte and a second
// byte whose nibbles are in the sets.
type pairBucket struct{ first, second [2]uint16 }

// cost is the sum of pairFreq over the pairs b lets through: how many
// positions per million bytes pass it, estimated.
func (b pairBucket) cost() int64 {
	t := pairFreqs()
	var n int64
	for hs := b.first[1]; hs != 0; hs &= hs - 1 {
		h := bits.TrailingZeros16(hs)
		for ls := b.first[0]; ls != 0; ls &= ls - 1 {
			c := h<<4 | bits.TrailingZeros16(ls)
			if b.second[0] == 0xffff { // every low nibble: sums by high nibble
				for hs2 := b.second[1]; hs2 != 0; hs2 &= hs2 - 1 {
					n += int64(t.rows[c][bits.TrailingZeros16(hs2)])
				}
				continue
			}
			row := t.freq[c<<8 : c<<8+256]
			for hs2 := b.second[1]; hs2 != 0; hs2 &= hs2 - 1 {
				r := row[bits.TrailingZeros16(hs2)<<4:][:16]
				for ls2 := b.second[0]; ls2 != 0; ls2 &= ls2 - 1 {
					n += int64(r[bits.TrailingZeros16(ls2)])
				}
			}
		}
	}
	return n
}

// addList appends e to the list *slot points to (an index+1 into lists,
// 0 for none yet), once.
func addList(lists *[][]anchorEntry, slot *uint16, e anchorEntry) {
	if *slot == 0 {
		*lists = append(*lists, nil)
		*slot = uint16(len(*lists))
	}
	l := (*lists)[*slot-1]
	if len(l) > 0 && l[len(l)-1].rule == e.rule && l[len(l)-1].off == e.off && string(l[len(l)-1].lit) == string(e.lit) {
		return // the same literal under another case of a byte
	}
	(*lists)[*slot-1] = append(l, e)
}

// scanPairs is scanAnchors for the pair engine: it finds the positions
// whose pair passes the buckets, 64 at a time, and checks the literals
// anchored at their pair.
func (r *Rules) scanPairs(msg []byte, best int, cand []uint64) int {
	pe := r.pairs
	n := len(msg)
	for base := 0; base+1 < n; base += 64 {
		var m uint64
		if left := n - base; left >= 17 {
			m = maskPairs(&msg[base], min(left, 65), &pe.t) // 64 positions and the byte after
		} else {
			w := msg[base:]
			for i := 0; i+1 < len(w); i++ {
				if pe.t.pass(w[i], w[i+1]) {
					m |= 1 << i
				}
			}
		}
		for ; m != 0; m &= m - 1 {
			i := base + bits.TrailingZeros64(m)
			// A missing byte reads as 0: at worst a false candidate,
			// which checkHits rejects by its bounds check.
			c, d := msg[i], msg[i+1]
			var before, after byte
			if i > 0 {
				before = msg[i-1]
			}
			if i+2 < n {
				after = msg[i+2]
			}
			if k := pe.fwd[triHash(c, d, after)]; k != 0 {
				best = r.checkHits(pe.lists[k-1], msg, i, best, cand)
			}
			if k := pe.back[triHash(before, c, d)]; k != 0 {
				best = r.checkHits(pe.lists[k-1], msg, i, best, cand)
			}
			if pe.two != nil {
				if k := pe.two[pairHash(c, d)]; k != 0 {
					best = r.checkHits(pe.lists[k-1], msg, i, best, cand)
				}
			}
			if pe.hasSingle {
				if k := pe.single[msg[i]]; k != 0 {
					best = r.checkHits(pe.lists[k-1], msg, i, best, cand)
				}
			}
			if best <= pe.minRule {
				return best
			}
		}
	}
	if pe.hasSingle && n > 0 {
		// The last byte starts no pair.
		if k := pe.single[msg[n-1]]; k != 0 {
			best = r.checkHits(pe.lists[k-1], msg, n-1, best, cand)
		}
	}
	return best
}
