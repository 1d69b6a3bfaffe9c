package gbdt

import (
	"sync"
	"sync/atomic"
)

// parallelFor calls fn(i) for every i in [0, n) on up to threads goroutines.
// Work is handed out dynamically, so fn must not depend on which goroutine
// runs it.
func parallelFor(n, threads int, fn func(i int)) {
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(threads)
	for w := 0; w < threads; w++ {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// parallelBlocks splits [0, n) into blocks of at least minBlock and calls
// fn(begin, end) for each block on up to threads goroutines.
func parallelBlocks(n, threads, minBlock int, fn func(begin, end int)) {
	blocks := threads * 4
	if blocks > (n+minBlock-1)/minBlock {
		blocks = (n + minBlock - 1) / minBlock
	}
	if blocks < 1 {
		blocks = 1
	}
	size := (n + blocks - 1) / blocks
	parallelFor(blocks, threads, func(i int) {
		b, e := i*size, (i+1)*size
		if e > n {
			e = n
		}
		if b < e {
			fn(b, e)
		}
	})
}
