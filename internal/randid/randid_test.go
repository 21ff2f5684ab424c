package randid

import (
	"regexp"
	"testing"
)

func TestFormats(t *testing.T) {
	tests := []struct {
		name string
		make func() string
		want *regexp.Regexp
	}{
		{"URLSafe(15)", func() string { return URLSafe(15) }, regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)},
		{"URLSafe(16)", func() string { return URLSafe(16) }, regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)},
		{"Hex(16)", func() string { return Hex(16) }, regexp.MustCompile(`^[0-9a-f]{32}$`)},
		{"Hex(3)", func() string { return Hex(3) }, regexp.MustCompile(`^[0-9a-f]{6}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(map[string]bool)
			for range 100 {
				id := tt.make()
				if !tt.want.MatchString(id) {
					t.Fatalf("%s = %q, want it to match %s", tt.name, id, tt.want)
				}
				seen[id] = true
			}
			// 100 draws of 24 random bits or more: a repeat is all but
			// impossible unless the bytes are not random.
			if len(seen) < 99 {
				t.Errorf("%s gave %d distinct ids in 100", tt.name, len(seen))
			}
		})
	}
}
