package batch

import "sort"

// Limits bound one batch.
type Limits struct {
	// MaxBatchTokens bounds the padded cost of a batch: longest × count.
	MaxBatchTokens int
	// MaxBatchSize bounds the number of items in a batch.
	MaxBatchSize int
	// MaxPaddingRatio, when above 0, keeps an item out of a batch it would
	// make more than this share padding (a batch of one is always allowed).
	// Runtimes pay for padded positions like real ones, so on a small CPU a
	// well-grouped batch of 8 beats a ragged batch of 64.
	MaxPaddingRatio float64
}

// Pack picks the next batch from a queue of item lengths (queue order, so
// lengths[0] is the oldest item) and returns the chosen queue indices in
// ascending order. The oldest item is always included, so nothing starves;
// the rest are the items closest to it in length, added one at a time
// choosing whichever neighbour adds less padding, while the batch stays
// within the limits. An item longer than MaxBatchTokens alone still forms a
// batch of one: the caller caps lengths before queueing.
func Pack(lengths []int, lim Limits) []int {
	if len(lengths) == 0 {
		return nil
	}
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	// Stable, so equal lengths keep queue order and older items win ties.
	sort.SliceStable(order, func(a, b int) bool { return lengths[order[a]] < lengths[order[b]] })
	anchor := 0
	for pos, i := range order {
		if i == 0 {
			anchor = pos
			break
		}
	}
	lo, hi := anchor, anchor // the window order[lo..hi] is the batch
	longest := lengths[order[anchor]]
	real := longest // sum of the batch's lengths
	fits := func(count, longest, real int) bool {
		return (lim.MaxBatchSize <= 0 || count <= lim.MaxBatchSize) &&
			(lim.MaxBatchTokens <= 0 || count*longest <= lim.MaxBatchTokens) &&
			(lim.MaxPaddingRatio <= 0 || float64(count*longest-real) <= lim.MaxPaddingRatio*float64(count*longest))
	}
	for {
		count := hi - lo + 1
		canLeft := lo > 0 && fits(count+1, longest, real+lengths[order[lo-1]])
		var rightLen int
		canRight := hi+1 < len(order)
		if canRight {
			rightLen = lengths[order[hi+1]]
			canRight = fits(count+1, max(longest, rightLen), real+rightLen)
		}
		switch {
		case canLeft && canRight:
			// Padding added: a shorter item pads itself up to longest; a
			// longer one pads every item already in the batch.
			leftPad := longest - lengths[order[lo-1]]
			rightPad := (rightLen - longest) * count
			if leftPad <= rightPad {
				lo--
				real += lengths[order[lo]]
			} else {
				hi++
				longest, real = rightLen, real+rightLen
			}
		case canLeft:
			lo--
			real += lengths[order[lo]]
		case canRight:
			hi++
			longest, real = max(longest, rightLen), real+rightLen
		default:
			picked := append([]int(nil), order[lo:hi+1]...)
			sort.Ints(picked)
			return picked
		}
	}
}

// Cost is the padded token cost and the padding share of a batch.
func Cost(lengths []int, picked []int) (tokens int, paddingRatio float64) {
	longest, real := 0, 0
	for _, i := range picked {
		longest = max(longest, lengths[i])
		real += lengths[i]
	}
	tokens = longest * len(picked)
	if tokens == 0 {
		return 0, 0
	}
	return tokens, float64(tokens-real) / float64(tokens)
}

// PackPriority is Pack over a queue of two classes: while any interactive
// item (low[i] false) is queued, the batch is packed from the interactive
// items alone, so async batch work never delays or pads an interactive
// request; low-priority items are packed only when no interactive item
// waits. It returns queue indices in ascending order, like Pack.
func PackPriority(lengths []int, low []bool, lim Limits) []int {
	var class []int
	for i := range lengths {
		if !low[i] {
			class = append(class, i)
		}
	}
	if len(class) == 0 || len(class) == len(lengths) {
		return Pack(lengths, lim)
	}
	sub := make([]int, len(class))
	for k, i := range class {
		sub[k] = lengths[i]
	}
	picked := Pack(sub, lim)
	for k, j := range picked {
		picked[k] = class[j]
	}
	return picked
}
