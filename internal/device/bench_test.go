package device

import (
	"crypto/rand"
	"testing"
)

func BenchmarkGenerateUserCode(b *testing.B) {
	p := CodePolicy{Alphabet: Base20, Length: 8, Group: 4}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Generate(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeUserCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := NormalizeUserCode("wdjb-mjht"); !ok {
			b.Fatal("rejected")
		}
	}
}
