package parser

import (
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
)

// Parallel analysis (docs/parser.md, "Analysis on several cores"). A record
// starts exactly at a timestamp prefix, which is recognised from its own
// bytes, so a part of the log that starts at a prefix splits into exactly
// the records the whole log has there. ReadLog cuts the input into blocks
// at prefixes; workers split and summarise the blocks' records (summarize:
// severity, failure rules, markers, signature template), and the calling
// goroutine applies the summaries in log order (apply: action runs,
// attribution, classifier windows, signatures, counts), as Write does for
// one record at a time.

// defaultBlockSize is the size of the blocks ReadLog hands to workers.
const defaultBlockSize = 1 << 20

// longRecordHead is how much of a record without any prefix in a whole
// block ReadLog keeps: a record longer than MaxCarriedBytes is analysed
// from its first MaxCarriedBytes only (see clip), and these are enough to
// make the block's one record exactly that.
const longRecordHead = MaxCarriedBytes + 1

// analysisBlock is a part of the log that starts where a record starts, and
// the summaries of its records.
type analysisBlock struct {
	text []byte
	// skip is what the reader read past of the block's one record, when
	// it is longer than a block (text is then its first longRecordHead
	// bytes).
	skip RecordCut
	sum  summaryBlock
	done chan struct{} // a worker summarised it
}

// ReadLog analyses the log read from r, which must be all of it: call it on
// a new Analyzer, without Write, then Finish. The result is the one Write
// would give for the same bytes, but the records are split and
// classified on as many goroutines as GOMAXPROCS. Memory stays bounded
// whatever the input: a few blocks of about 1 MiB are in flight, and of a
// record longer than a block only its first MaxCarriedBytes are kept while
// the rest is read past. It returns the number of bytes read and the first
// error of r other than io.EOF; the analysis then covers the bytes read
// before it.
func (z *Analyzer) ReadLog(r io.Reader) (int64, error) {
	if z.a.Bytes > 0 {
		return 0, errors.New("parser: Analyzer.ReadLog on an Analyzer already fed")
	}
	n, err := z.summarizeBlocks(r, z.deferred, func(b *summaryBlock) {
		for i := range b.recs {
			z.apply(&b.recs[i], b)
		}
	})
	z.a.Bytes = n
	return n, err
}

// summarizeBlocks reads r in blocks, summarises their records on worker
// goroutines (with the failure rules deferred or not), and hands the
// summaries to apply in log order on the calling goroutine. It returns the
// bytes read and the first error of r other than io.EOF.
func (z *Analyzer) summarizeBlocks(r io.Reader, deferred bool, apply func(*summaryBlock)) (int64, error) {
	workers := z.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	size := z.blockSize
	if size <= 0 {
		size = defaultBlockSize
	}
	nblocks := 2*workers + 2
	free := make(chan *analysisBlock, nblocks)
	for range nblocks {
		free <- &analysisBlock{done: make(chan struct{}, 1)}
	}
	jobs := make(chan *analysisBlock, nblocks)
	order := make(chan *analysisBlock, nblocks)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var (
				fcls  classifyScratch
				cur   *summaryBlock
				marks blockMarks
			)
			s := NewStream(z.rules, nil)
			for b := range jobs {
				cur = &b.sum
				cur.reset(b.text)
				cur.deferred = deferred && !z.matchAll.Load()
				if cap(cur.recs) == 0 { // records are ~100 bytes; spare the doublings
					cur.recs = make([]recordSummary, 0, len(b.text)/64+1)
				}
				if useBlockMarks {
					marks.reset(b.text)
					cur.marks = &marks
				}
				s.splitAll(b.text, cur.marks, cur, z.frules, &fcls)
				// The marks are the worker's, for its next block.
				cur.marks = nil
				if b.skip.Bytes > 0 { // the block is one record: its head
					last := &cur.recs[len(cur.recs)-1]
					last.lines += b.skip.Newlines
					last.size += b.skip.Bytes
					last.lastByte, last.nonEmpty = b.skip.Last, true
				}
				b.done <- struct{}{}
			}
		})
	}
	var (
		n   int64
		err error
	)
	go func() {
		defer close(jobs)
		defer close(order)
		n, err = cutBlocks(r, size, free, func(b *analysisBlock) {
			order <- b
			jobs <- b
		})
	}()
	for b := range order {
		<-b.done
		apply(&b.sum)
		b.skip = RecordCut{}
		free <- b
	}
	wg.Wait()
	return n, err
}

// cutBlocks reads r into blocks of about size bytes (at least
// longRecordHead when a record is longer), each ending where a record
// starts, and sends them in order. A record longer than any block is sent
// as one block of its first longRecordHead bytes; the rest of it is read
// past. It returns the bytes read and the first error of r other than
// io.EOF.
func cutBlocks(r io.Reader, size int, free <-chan *analysisBlock, send func(*analysisBlock)) (int64, error) {
	var (
		total int64
		dc    dateCache
	)
	// read appends to buf up to limit bytes in all.
	read := func(buf []byte, limit int) ([]byte, error) {
		buf = slices.Grow(buf, limit-len(buf))
		n, err := r.Read(buf[len(buf):limit])
		total += int64(n)
		return buf[:len(buf)+n], err
	}
	b := <-free
	b.text = b.text[:0]
	// searched: no prefix starts in b.text[1:searched] (a record starts at
	// 0); want: how much to read before looking for a cut.
	searched, want := 1, size
	var err error
	for {
		for len(b.text) < want && err == nil {
			b.text, err = read(b.text, want)
		}
		if err != nil {
			send(b)
			if err == io.EOF {
				err = nil
			}
			return total, err
		}
		if cut := lastPrefix(b.text, searched, &dc); cut > 0 {
			next := <-free
			next.text = append(next.text[:0], b.text[cut:]...)
			b.text = b.text[:cut]
			send(b)
			b, searched, want = next, 1, size
			continue
		}
		searched = max(1, len(b.text)-maxPrefixLen+1)
		if len(b.text) < longRecordHead+maxPrefixLen {
			want = len(b.text) + size // a long record: read more of it
			continue
		}
		// The whole block is one record longer than MaxCarriedBytes: send
		// its head, and read past the rest up to the next prefix, keeping
		// the bytes where one may begin.
		// It is sent once the rest is read past: its summary needs the
		// line ends and the last byte of the rest (RecordCut).
		head := b
		next := <-free
		next.text = append(next.text[:0], head.text[searched:]...)
		head.skip = cutOf(head.text[longRecordHead:searched])
		head.text = head.text[:longRecordHead]
		b = next
		for {
			b.text, err = read(b.text, max(size, 2*maxPrefixLen))
			if idx, _, _, _ := nextPrefix(b.text, 0, &dc); idx >= 0 {
				head.skip = head.skip.add(cutOf(b.text[:idx]))
				b.text = b.text[:copy(b.text, b.text[idx:])]
				break
			}
			if err != nil {
				head.skip = head.skip.add(cutOf(b.text))
				send(head)
				if err == io.EOF {
					err = nil
				}
				return total, err
			}
			keep := max(0, len(b.text)-maxPrefixLen+1)
			head.skip = head.skip.add(cutOf(b.text[:keep]))
			b.text = b.text[:copy(b.text, b.text[keep:])]
		}
		send(head)
		searched, want = 1, size
	}
}

// lastPrefix returns the start of a prefix in b at or after from (>= 1), one
// near the end of b if there is one, so that little is carried to the next
// block; 0 if there is none.
func lastPrefix(b []byte, from int, dc *dateCache) int {
	for _, back := range [...]int{4 << 10, 64 << 10} {
		if st := len(b) - back; st > from {
			if idx, _, _, _ := nextPrefix(b, st, dc); idx >= 0 {
				return idx
			}
		}
	}
	if idx, _, _, _ := nextPrefix(b, from, dc); idx >= 0 {
		return idx
	}
	return 0
}
