package promtext

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Rules are what Lint holds an exposition to, besides what Parse checks.
type Rules struct {
	// Prefixes are the name prefixes families may have ("chatserver_",
	// "go_", "process_"); empty allows any.
	Prefixes []string
	// Own is the prefix of the families held to every rule ("chatserver_");
	// the others (the runtime's, the process's) are held to the rules
	// that apply to any family.
	Own string
}

// nonBaseUnits are name parts the Prometheus rules ask to write in base
// units instead: seconds and bytes.
var nonBaseUnits = []string{
	"milliseconds", "microseconds", "nanoseconds", "millis", "ms", "us", "ns",
	"minutes", "hours", "days", "kilobytes", "megabytes", "gigabytes", "kb", "mb", "gb", "kib", "mib", "gib",
}

// reservedSuffixes end the sample names of histograms and summaries; a
// counter or gauge family must not end in one.
var reservedSuffixes = []string{"_bucket", "_sum", "_count"}

// Lint checks the families of e against the Prometheus naming rules and
// returns what breaks them. For every family: a TYPE line; a name ending
// in _total only for a counter; no label name starting with "__"; an le
// label only on histogram buckets, a quantile label only on summaries.
// For the families with the Own prefix besides: a counter's name ends in
// _total; no name part in other units than the base ones (seconds,
// bytes); a histogram is named after its unit (_seconds or _bytes) and
// has its buckets cumulative, in increasing le order, ending with +Inf,
// which equals its _count, beside _sum; no gauge or counter name ends in
// _bucket, _sum or _count.
func Lint(e *Exposition, rules Rules) []error {
	var errs []error
	bad := func(f *Family, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", f.Name, fmt.Sprintf(format, args...)))
	}
	for _, f := range e.Families {
		if len(rules.Prefixes) > 0 && !slices.ContainsFunc(rules.Prefixes, func(p string) bool { return strings.HasPrefix(f.Name, p) }) {
			bad(f, "the name has none of the prefixes %q", rules.Prefixes)
		}
		if f.Type == "" {
			bad(f, "no TYPE line")
		}
		if strings.HasSuffix(f.Name, "_total") && f.Type != "counter" {
			bad(f, "named _total but of type %s", f.Type)
		}
		for _, s := range f.Samples {
			for k := range s.Labels {
				switch {
				case strings.HasPrefix(k, "__"):
					bad(f, "label %s is reserved (it starts with __)", k)
				case k == "le" && !(f.Type == "histogram" && s.Name == f.Name+"_bucket"):
					bad(f, "an le label outside a histogram's buckets")
				case k == "quantile" && f.Type != "summary":
					bad(f, "a quantile label outside a summary")
				}
			}
		}
		if rules.Own == "" || !strings.HasPrefix(f.Name, rules.Own) {
			continue
		}
		if f.Type == "counter" && !strings.HasSuffix(f.Name, "_total") {
			bad(f, "a counter whose name does not end in _total")
		}
		for _, part := range strings.Split(f.Name, "_") {
			if slices.Contains(nonBaseUnits, part) {
				bad(f, "%q is not a base unit: use seconds or bytes", part)
			}
		}
		if (f.Type == "counter" || f.Type == "gauge") && slices.ContainsFunc(reservedSuffixes, func(x string) bool { return strings.HasSuffix(f.Name, x) }) {
			bad(f, "a %s named like a histogram's or summary's samples", f.Type)
		}
		if f.Type == "histogram" {
			for _, err := range checkHistogram(f) {
				bad(f, "%v", err)
			}
		}
	}
	return errs
}

// checkHistogram checks a histogram's name and samples, series by series
// (a series being the labels other than le).
func checkHistogram(f *Family) []error {
	var errs []error
	if !strings.HasSuffix(f.Name, "_seconds") && !strings.HasSuffix(f.Name, "_bytes") {
		errs = append(errs, fmt.Errorf("a histogram not named after its unit (_seconds or _bytes)"))
	}
	type series struct {
		les          []float64
		counts       []float64
		sum, count   float64
		hasSum, hasN bool
	}
	all := map[string]*series{}
	var order []string
	get := func(s Sample) *series {
		labels := Sample{Labels: map[string]string{}}
		for k, v := range s.Labels {
			if k != "le" {
				labels.Labels[k] = v
			}
		}
		key := seriesKey(labels)
		if all[key] == nil {
			all[key] = &series{}
			order = append(order, key)
		}
		return all[key]
	}
	for _, s := range f.Samples {
		h := get(s)
		switch s.Name {
		case f.Name + "_bucket":
			le, ok := s.Labels["le"]
			if !ok {
				errs = append(errs, fmt.Errorf("a bucket without an le label"))
				continue
			}
			v, err := parseValue(le)
			if err != nil {
				errs = append(errs, fmt.Errorf("le %q is not a number", le))
				continue
			}
			h.les, h.counts = append(h.les, v), append(h.counts, s.Value)
		case f.Name + "_sum":
			h.sum, h.hasSum = s.Value, true
		case f.Name + "_count":
			h.count, h.hasN = s.Value, true
		}
	}
	if len(order) == 0 {
		errs = append(errs, fmt.Errorf("no samples"))
	}
	for _, key := range order {
		h := all[key]
		switch {
		case len(h.les) == 0:
			errs = append(errs, fmt.Errorf("%s: no buckets", key))
			continue
		case !h.hasSum || !h.hasN:
			errs = append(errs, fmt.Errorf("%s: no _sum or no _count", key))
		}
		for i := 1; i < len(h.les); i++ {
			if !(h.les[i] > h.les[i-1]) {
				errs = append(errs, fmt.Errorf("%s: le %g after le %g", key, h.les[i], h.les[i-1]))
			}
			if h.counts[i] < h.counts[i-1] {
				errs = append(errs, fmt.Errorf("%s: bucket le=%g holds %g, fewer than the %g of le=%g: not cumulative",
					key, h.les[i], h.counts[i], h.counts[i-1], h.les[i-1]))
			}
		}
		last := len(h.les) - 1
		switch {
		case !math.IsInf(h.les[last], 1):
			errs = append(errs, fmt.Errorf("%s: no +Inf bucket last", key))
		case h.hasN && h.counts[last] != h.count:
			errs = append(errs, fmt.Errorf("%s: the +Inf bucket holds %g but _count is %g", key, h.counts[last], h.count))
		}
	}
	return errs
}
