package analysis

import (
	"encoding/binary"
	"time"
)

// ackIndex keeps every ack range of a history, in journal order, so that a
// read-back reporting a number missing hours after it was acknowledged still
// finds the range that acknowledged it (LostCommits names its node,
// timeline and times). Ranges are delta-coded as varints in blocks: about a
// dozen bytes a range where the events take hundreds, so three days of a
// booth (a range a second) fit in a few megabytes.
type ackIndex struct {
	nodes  []string
	nodeID map[string]uint64
	blocks []ackBlock
	// prev is the last range appended, the base of the next delta.
	prev Ack
	n    int
	size int // bytes held by the blocks
}

// ackBlockSize bounds a block, so a look-up decodes little beyond the
// blocks whose numbers can hold the one it seeks.
const ackBlockSize = 256

type ackBlock struct {
	minSeq, maxSeq uint64
	n              int
	data           []byte
}

// Entry header bits.
const (
	ackNewNode  = 1 << iota // node and timeline follow
	ackAbsolute             // times follow as Unix seconds and nanoseconds
)

func (x *ackIndex) add(a Ack) {
	// Wall clock only: the deltas must be what decoding adds back.
	a.FirstAt, a.LastAt = a.FirstAt.Round(0), a.LastAt.Round(0)
	if len(x.blocks) == 0 || x.blocks[len(x.blocks)-1].n == ackBlockSize {
		x.blocks = append(x.blocks, ackBlock{minSeq: a.First, maxSeq: a.Last})
	}
	b := &x.blocks[len(x.blocks)-1]
	held := cap(b.data)
	first := b.n == 0
	base := x.prev
	if first {
		base = Ack{} // a block decodes on its own, so look-ups skip others
	}
	var hdr uint64
	if first || a.Node != x.prev.Node || a.Timeline != x.prev.Timeline {
		hdr |= ackNewNode
	}
	// Deltas in nanoseconds when they round-trip (they always do on a
	// real clock); absolute times when they would saturate, as between a
	// zero time of a damaged journal and a real one.
	gap, dur := a.FirstAt.Sub(x.prev.LastAt), a.LastAt.Sub(a.FirstAt)
	if first || !x.prev.LastAt.Add(gap).Equal(a.FirstAt) || !a.FirstAt.Add(dur).Equal(a.LastAt) {
		hdr |= ackAbsolute
	}
	buf := b.data
	buf = binary.AppendUvarint(buf, hdr)
	if hdr&ackNewNode != 0 {
		id, ok := x.nodeID[a.Node]
		if !ok {
			if x.nodeID == nil {
				x.nodeID = map[string]uint64{}
			}
			id = uint64(len(x.nodes))
			x.nodeID[a.Node] = id
			x.nodes = append(x.nodes, a.Node)
		}
		buf = binary.AppendUvarint(buf, id)
		buf = binary.AppendVarint(buf, int64(a.Timeline))
	}
	buf = binary.AppendVarint(buf, int64(a.First-base.Last)) // wraps both ways
	buf = binary.AppendUvarint(buf, a.Last-a.First)
	if hdr&ackAbsolute != 0 {
		buf = binary.AppendVarint(buf, a.FirstAt.Unix())
		buf = binary.AppendUvarint(buf, uint64(a.FirstAt.Nanosecond()))
		buf = binary.AppendVarint(buf, a.LastAt.Unix())
		buf = binary.AppendUvarint(buf, uint64(a.LastAt.Nanosecond()))
	} else {
		buf = binary.AppendVarint(buf, int64(gap))
		buf = binary.AppendUvarint(buf, uint64(dur))
	}
	b.data = buf
	x.size += cap(buf) - held
	b.minSeq, b.maxSeq = min(b.minSeq, a.First), max(b.maxSeq, a.Last)
	b.n++
	x.n++
	x.prev = a
}

// find returns the range holding seq that LostCommits would pick: the
// earliest FirstAt, the first journaled among equals.
func (x *ackIndex) find(seq uint64) (Ack, bool) {
	var best Ack
	found := false
	for _, b := range x.blocks {
		if seq < b.minSeq || seq > b.maxSeq {
			continue
		}
		buf := b.data
		var prev Ack
		for range b.n {
			a := decodeAck(&buf, prev, x.nodes)
			prev = a
			if a.First <= seq && seq <= a.Last && (!found || a.FirstAt.Before(best.FirstAt)) {
				best, found = a, true
			}
		}
	}
	return best, found
}

// decodeAck reads the entry at the head of *buf, coded against prev.
func decodeAck(buf *[]byte, prev Ack, nodes []string) Ack {
	uv := func() uint64 {
		v, n := binary.Uvarint(*buf)
		*buf = (*buf)[n:]
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(*buf)
		*buf = (*buf)[n:]
		return v
	}
	hdr := uv()
	a := Ack{Node: prev.Node, Timeline: prev.Timeline}
	if hdr&ackNewNode != 0 {
		a.Node = nodes[uv()]
		a.Timeline = int(sv())
	}
	a.First = prev.Last + uint64(sv())
	a.Last = a.First + uv()
	if hdr&ackAbsolute != 0 {
		a.FirstAt = time.Unix(sv(), int64(uv())).UTC()
		a.LastAt = time.Unix(sv(), int64(uv())).UTC()
	} else {
		a.FirstAt = prev.LastAt.Add(time.Duration(sv()))
		a.LastAt = a.FirstAt.Add(time.Duration(uv()))
	}
	return a
}

// bytes is the index's size, for the soak bench.
func (x *ackIndex) bytes() int { return x.size }
