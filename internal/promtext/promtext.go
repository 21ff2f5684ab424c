// Package promtext reads the Prometheus text exposition format (version
// 0.0.4) strictly, and checks the names in it against the Prometheus
// naming rules: what the tests of /metrics need. It is a checker, not a
// general parser: it refuses what a scraper might let pass (a family
// split in two, a sample before its TYPE line, a TYPE line repeated).
package promtext

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sample is one line of values: a series and its value.
type Sample struct {
	// Name is the sample's name (for a histogram, the family name with
	// _bucket, _sum or _count).
	Name string
	// Labels are the sample's labels, without duplicates.
	Labels map[string]string
	// Value is the sample's value.
	Value float64
}

// Family is a metric family: its # HELP and # TYPE lines and its samples,
// in the order written.
type Family struct {
	Name, Help, Type string
	Samples          []Sample
}

// Exposition is a parsed exposition: its families in the order written.
type Exposition struct {
	Families []*Family
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	types      = []string{"counter", "gauge", "histogram", "summary", "untyped"}
)

// Parse reads an exposition. Every family must have its TYPE line before
// its samples, once; its samples must follow one another; no series may
// appear twice.
func Parse(text string) (*Exposition, error) {
	p := parser{byName: make(map[string]*Family), helped: make(map[*Family]bool), series: make(map[string]bool)}
	for i, line := range strings.Split(text, "\n") {
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("the exposition does not end with a line feed")
	}
	return &p.exp, nil
}

// parser is the state of Parse.
type parser struct {
	exp     Exposition
	byName  map[string]*Family
	helped  map[*Family]bool // families whose HELP line was read
	current *Family          // the family whose lines are being read
	series  map[string]bool  // name and labels of every sample seen
}

func (p *parser) line(line string) error {
	switch {
	case line == "":
		return nil
	case strings.HasPrefix(line, "# HELP "):
		name, text, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
		f, err := p.family(name)
		if err != nil {
			return err
		}
		if p.helped[f] {
			return fmt.Errorf("a second HELP line for %s", name)
		}
		p.helped[f] = true
		f.Help = text
		return nil
	case strings.HasPrefix(line, "# TYPE "):
		name, typ, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
		if !slices.Contains(types, typ) {
			return fmt.Errorf("unknown type %q", typ)
		}
		f, err := p.family(name)
		if err != nil {
			return err
		}
		if f.Type != "" {
			return fmt.Errorf("a second TYPE line for %s", name)
		}
		if len(f.Samples) > 0 {
			return fmt.Errorf("the TYPE line of %s comes after its samples", name)
		}
		f.Type = typ
		return nil
	case strings.HasPrefix(line, "#"):
		return nil // a comment
	}
	s, err := parseSample(line)
	if err != nil {
		return err
	}
	if p.current == nil || !p.current.owns(s.Name) {
		return fmt.Errorf("sample %s is not of the family declared above it (%s)", s.Name, p.currentName())
	}
	key := seriesKey(s)
	if p.series[key] {
		return fmt.Errorf("series %s appears twice", key)
	}
	p.series[key] = true
	p.current.Samples = append(p.current.Samples, s)
	return nil
}

// family returns the family called name for a HELP or TYPE line: the
// current one, or a new one; a family seen before and left is an error.
func (p *parser) family(name string) (*Family, error) {
	if !metricName.MatchString(name) {
		return nil, fmt.Errorf("invalid metric name %q", name)
	}
	if p.current != nil && p.current.Name == name {
		return p.current, nil
	}
	if _, seen := p.byName[name]; seen {
		return nil, fmt.Errorf("family %s is split: its lines do not follow one another", name)
	}
	f := &Family{Name: name}
	p.byName[name] = f
	p.exp.Families = append(p.exp.Families, f)
	p.current = f
	return f, nil
}

func (p *parser) currentName() string {
	if p.current == nil {
		return "none"
	}
	return p.current.Name
}

// owns reports whether a sample called name belongs to f.
func (f *Family) owns(name string) bool {
	switch f.Type {
	case "histogram":
		return name == f.Name+"_bucket" || name == f.Name+"_sum" || name == f.Name+"_count"
	case "summary":
		return name == f.Name || name == f.Name+"_sum" || name == f.Name+"_count"
	}
	return name == f.Name
}

// seriesKey names a series: its name and its labels in order.
func seriesKey(s Sample) string {
	names := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(s.Name)
	for _, k := range names {
		fmt.Fprintf(&b, ",%s=%q", k, s.Labels[k])
	}
	return b.String()
}

// parseSample parses `name{label="value",...} value [timestamp]`.
func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return s, errors.New("no value")
	}
	s.Name, line = line[:end], line[end:]
	if !metricName.MatchString(s.Name) {
		return s, fmt.Errorf("invalid metric name %q", s.Name)
	}
	if strings.HasPrefix(line, "{") {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return s, err
		}
		line = rest
	}
	if !strings.HasPrefix(line, " ") {
		return s, errors.New("no space before the value")
	}
	fields := strings.Fields(line)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want a value and an optional timestamp, got %q", line)
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, err
	}
	s.Value = v
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("invalid timestamp %q", fields[1])
		}
	}
	return s, nil
}

// parseLabels parses the labels after a "{" into labels and returns what
// follows the "}".
func parseLabels(s string, labels map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return "", errors.New("a label without a value")
		}
		name := strings.TrimSpace(s[:eq])
		if !labelName.MatchString(name) {
			return "", fmt.Errorf("invalid label name %q", name)
		}
		if _, dup := labels[name]; dup {
			return "", fmt.Errorf("label %s appears twice", name)
		}
		s = s[eq+1:]
		if !strings.HasPrefix(s, `"`) {
			return "", fmt.Errorf("the value of label %s is not quoted", name)
		}
		value, rest, err := unquote(s[1:])
		if err != nil {
			return "", fmt.Errorf("label %s: %w", name, err)
		}
		labels[name] = value
		s = strings.TrimLeft(rest, " \t")
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
			return s[1:], nil
		default:
			return "", fmt.Errorf("after label %s: want , or }", name)
		}
	}
}

// unquote reads a label value up to its closing quote, with the escapes
// the format allows (\\, \" and \n), and returns what follows.
func unquote(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", errors.New("a lone backslash")
			}
			i++
			switch s[i] {
			case '\\':
				b.WriteByte('\\')
			case '"':
				b.WriteByte('"')
			case 'n':
				b.WriteByte('\n')
			default:
				return "", "", fmt.Errorf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("no closing quote")
}

// parseValue parses a sample value: a Go float, or +Inf, -Inf, NaN.
func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	return v, nil
}

// Family returns the family called name, or nil.
func (e *Exposition) Family(name string) *Family {
	for _, f := range e.Families {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Value returns the value of the sample called name whose labels include
// the pairs given (name, value, name, value...), and whether there is one.
func (e *Exposition) Value(name string, labelPairs ...string) (float64, bool) {
	for _, f := range e.Families {
		for _, s := range f.Samples {
			if s.Name == name && hasLabels(s, labelPairs) {
				return s.Value, true
			}
		}
	}
	return 0, false
}

func hasLabels(s Sample, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if v, ok := s.Labels[pairs[i]]; !ok || v != pairs[i+1] {
			return false
		}
	}
	return true
}
