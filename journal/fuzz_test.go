package journal

import (
	"bytes"
	"testing"
)

func FuzzRead(f *testing.F) {
	f.Add([]byte(line(1, KindMark) + line(2, KindPower)))
	f.Add([]byte(line(1, KindMark) + "garbage\n" + `{"seq":3,"kind":"x"`))
	f.Add([]byte("\x00\x00\n\n{}\n"))
	f.Add([]byte(`{"seq":1,"kind":"probe.ack","missing":[1,2,3],"on":true}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Read of memory failed: %v", err)
		}
		if c.Size != int64(len(data)) || c.Valid > c.Size || c.Valid < 0 {
			t.Fatalf("valid %d size %d for %d bytes", c.Valid, c.Size, len(data))
		}
		for _, e := range c.Events {
			if e.Kind == "" || e.Seq == 0 {
				t.Fatalf("accepted an event without kind or seq: %+v", e)
			}
		}
		if c.Valid > 0 && data[c.Valid-1] != '\n' {
			t.Fatalf("valid prefix does not end a line")
		}
		for i, p := range c.Problems {
			if p.Torn && i != len(c.Problems)-1 {
				t.Fatalf("torn problem %v is not the last", p)
			}
		}
		// What Open keeps (the valid prefix) reads back to the same events;
		// only an invalid line that is now last may be cut next time.
		again, _ := Read(bytes.NewReader(data[:c.Valid]))
		if len(again.Events) != len(c.Events) {
			t.Fatalf("valid prefix has %d events, whole input %d", len(again.Events), len(c.Events))
		}
		for i := range again.Events {
			if again.Events[i].Seq != c.Events[i].Seq {
				t.Fatalf("event %d: seq %d after cut, %d before", i, again.Events[i].Seq, c.Events[i].Seq)
			}
		}
		if again.Valid > c.Valid {
			t.Fatalf("re-read grew the valid prefix")
		}
	})
}
