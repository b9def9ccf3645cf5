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
	cases := func(c byte) []byte {
		if fold && isASCIILetter(c) {
			return []byte{c, c ^ 0x20}
		}
		return []byte{c}
	}
	if off+1 >= len(lit) {
		n := int64(0)
		for _, c := range cases(lit[off]) {
			n += int64(byteCost(c)) * 100
		}
		return n
	}
	n := int64(0)
	for _, c := range cases(lit[off]) {
		for _, d := range cases(lit[off+1]) {
			n += int64(pairFreq(c, d))
		}
	}
	return n
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
		cases := func(c byte) []byte {
			if fold && isASCIILetter(c) {
				return []byte{c, c ^ 0x20}
			}
			return []byte{c}
		}
		for _, c := range cases(e.lit[e.off]) {
			if len(e.lit) == 1 {
				pe.hasSingle = true
				addList(&pe.lists, &pe.single[c], e)
				if p := (pair{c: c, anyNext: true}); !seen[p] {
					seen[p] = true
					pairs = append(pairs, p)
				}
				continue
			}
			for _, d := range cases(e.lit[e.off+1]) {
				switch {
				case e.off+2 < len(e.lit):
					for _, x := range cases(e.lit[e.off+2]) {
						addList(&pe.lists, &pe.fwd[triHash(c, d, x)], e)
					}
				case e.off > 0:
					for _, x := range cases(e.lit[e.off-1]) {
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
	// The nibble sets of a bucket's pairs: bit l of [0], bit h of [1].
	type bucket struct{ first, second [2]uint16 }
	add := func(b bucket, p pair) bucket {
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
	cost := func(b bucket) int64 {
		var n int64
		var firsts, seconds [256]byte
		second := nibbleBytes(b.second, &seconds)
		for _, c := range nibbleBytes(b.first, &firsts) {
			for _, d := range second {
				n += int64(pairFreq(c, d))
			}
		}
		return n
	}
	var buckets [8]bucket
	in := make([]int, len(pairs)) // the bucket of each pair
	for i, p := range pairs {
		best, bestDelta := 0, int64(-1)
		for k, b := range buckets {
			if delta := cost(add(b, p)) - cost(b); bestDelta < 0 || delta < bestDelta {
				best, bestDelta = k, delta
			}
		}
		buckets[best] = add(buckets[best], p)
		in[i] = best
	}
	// Then move single pairs to another bucket while that lets fewer
	// positions through (a few rounds: this runs when rules compile).
	without := func(k, skip int) bucket {
		var b bucket
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
			gain := cost(buckets[from]) - cost(rest)
			for k, b := range buckets {
				if k != from && cost(add(b, p))-cost(b) < gain {
					buckets[from], buckets[k] = rest, add(b, p)
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
	// The distinct pairs of each literal (c<<8 | d) and their costs.
	type cand struct {
		key  int
		cost int64
	}
	per := make([][]cand, len(items))
	for k, e := range items {
		for j := 0; j+1 < len(e.lit); j++ {
			key := int(e.lit[j])<<8 | int(e.lit[j+1])
			if !slices.ContainsFunc(per[k], func(c cand) bool { return c.key == key }) {
				per[k] = append(per[k], cand{key, pairCost(e.lit, j, rules[e.rule].fold)})
			}
		}
	}
	chosen := map[[2]byte]bool{}
	covered := make([]bool, len(items))
	count := make([]int, 1<<16)
	cost := make([]int64, 1<<16)
	for {
		var keys []int
		for k := range items {
			if covered[k] {
				continue
			}
			for _, c := range per[k] {
				if count[c.key] == 0 {
					keys = append(keys, c.key)
				}
				count[c.key]++
				cost[c.key] = c.cost
			}
		}
		best, bestRatio := -1, -1.0
		for _, key := range keys {
			// Each literal anchored at the pair is also compared wherever
			// it occurs: sharing a pair saves bucket space, not checks.
			ratio := float64(pairPassCost+cost[key])/float64(count[key]) + float64(cost[key])
			if bestRatio < 0 || ratio < bestRatio || ratio == bestRatio && key < best {
				best, bestRatio = key, ratio
			}
			count[key] = 0
		}
		if best < 0 {
			return chosen
		}
		chosen[[2]byte{byte(best >> 8), byte(best)}] = true
		for k := range items {
			if !covered[k] && slices.ContainsFunc(per[k], func(c cand) bool { return c.key == best }) {
				covered[k] = true
			}
		}
	}
}

// nibbleBytes returns the bytes with a low nibble in set[0] and a high
// nibble in set[1], in buf.
func nibbleBytes(set [2]uint16, buf *[256]byte) []byte {
	b := buf[:0]
	for h := range 16 {
		for l := range 16 {
			if set[1]&(1<<h) != 0 && set[0]&(1<<l) != 0 {
				b = append(b, byte(h<<4|l))
			}
		}
	}
	return b
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
		w := msg[base:min(n, base+65)] // 64 positions and the byte after
		var m uint64
		if len(w) >= 17 {
			m = maskPairs(&w[0], len(w), &pe.t)
		} else {
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
