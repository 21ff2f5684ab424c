package promtext

import (
	"strings"
	"testing"
)

// good is an exposition that keeps every rule.
const good = `# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{code="200"} 7
app_requests_total{code="500", path="/a \"b\"\\c\n"} 0
# TYPE app_open gauge
app_open 3
# HELP app_wait_seconds How long it took.
# TYPE app_wait_seconds histogram
app_wait_seconds_bucket{le="0.1"} 1
app_wait_seconds_bucket{le="1"} 3
app_wait_seconds_bucket{le="+Inf"} 4
app_wait_seconds_sum 5.5
app_wait_seconds_count 4
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} 0.001
go_gc_duration_seconds_sum 0.1
go_gc_duration_seconds_count 9
# TYPE go_cgo_calls_count counter
go_cgo_calls_count 1 1700000000000
`

var rules = Rules{Prefixes: []string{"app_", "go_"}, Own: "app_"}

func TestParseReadsFamiliesSamplesAndLabels(t *testing.T) {
	e, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range e.Families {
		names = append(names, f.Name+":"+f.Type)
	}
	want := "app_requests_total:counter app_open:gauge app_wait_seconds:histogram go_gc_duration_seconds:summary go_cgo_calls_count:counter"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("families %s, want %s", got, want)
	}
	if h := e.Family("app_requests_total").Help; h != "Requests served." {
		t.Errorf("help %q", h)
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"app_requests_total", []string{"code", "200"}, 7},
		{"app_requests_total", []string{"path", "/a \"b\"\\c\n"}, 0},
		{"app_open", nil, 3},
		{"app_wait_seconds_bucket", []string{"le", "+Inf"}, 4},
		{"app_wait_seconds_sum", nil, 5.5},
	} {
		if v, ok := e.Value(tt.name, tt.labels...); !ok || v != tt.want {
			t.Errorf("%s%q = %v, %v; want %v", tt.name, tt.labels, v, ok, tt.want)
		}
	}
	if _, ok := e.Value("app_requests_total", "code", "404"); ok {
		t.Error("found a series that is not there")
	}
	if errs := Lint(e, rules); len(errs) > 0 {
		t.Errorf("Lint of a good exposition: %v", errs)
	}
}

func TestParseRefusesMalformedExpositions(t *testing.T) {
	for _, tt := range []struct {
		name, text, want string
	}{
		{"no final line feed", "# TYPE a gauge\na 1", "does not end with a line feed"},
		{"a sample before any TYPE", "a 1\n", "not of the family declared above it"},
		{"a sample of another family", "# TYPE a gauge\nb 1\n", "not of the family declared above it"},
		{"a family split in two", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a again\n", "is split"},
		{"two TYPE lines", "# TYPE a gauge\n# TYPE a gauge\na 1\n", "a second TYPE line"},
		{"two HELP lines", "# HELP a\n# HELP a x\n# TYPE a gauge\na 1\n", "a second HELP line"},
		{"an unknown type", "# TYPE a meter\na 1\n", "unknown type"},
		{"an invalid metric name", "# TYPE 1a gauge\n1a 1\n", "invalid metric name"},
		{"an invalid label name", "# TYPE a gauge\na{1x=\"y\"} 1\n", "invalid label name"},
		{"a label twice", "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", "appears twice"},
		{"an unquoted label value", "# TYPE a gauge\na{x=1} 1\n", "not quoted"},
		{"an unknown escape", "# TYPE a gauge\na{x=\"\\t\"} 1\n", "unknown escape"},
		{"an unterminated label value", "# TYPE a gauge\na{x=\"1} 1\n", "no closing quote"},
		{"a series twice", "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n", "appears twice"},
		{"a bad value", "# TYPE a gauge\na one\n", "invalid value"},
		{"no value", "# TYPE a gauge\na\n", "no value"},
		{"a bad timestamp", "# TYPE a gauge\na 1 soon\n", "invalid timestamp"},
		{"a TYPE after the samples", "# HELP a\na 1\n# TYPE a gauge\n", "comes after its samples"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestLintFindsEveryBrokenRule(t *testing.T) {
	hist := func(lines string) string { return "# TYPE app_wait_seconds histogram\n" + lines }
	for _, tt := range []struct {
		name, text, want string
	}{
		{"a foreign prefix", "# TYPE other_x gauge\nother_x 1\n", "none of the prefixes"},
		{"a counter without _total", "# TYPE app_requests counter\napp_requests 1\n", "does not end in _total"},
		{"_total on a gauge", "# TYPE app_open_total gauge\napp_open_total 1\n", "named _total but of type gauge"},
		{"_total on a foreign gauge", "# TYPE go_x_total gauge\ngo_x_total 1\n", "named _total but of type gauge"},
		{"no TYPE", "# HELP app_x\n", "no TYPE line"},
		{"milliseconds", "# TYPE app_wait_milliseconds gauge\napp_wait_milliseconds 1\n", "not a base unit"},
		{"kilobytes", "# TYPE app_sent_kb_total counter\napp_sent_kb_total 1\n", "not a base unit"},
		{"a gauge named like a count", "# TYPE app_users_count gauge\napp_users_count 1\n", "named like a histogram's"},
		{"a reserved label", "# TYPE app_x gauge\napp_x{__name=\"y\"} 1\n", "reserved"},
		{"le outside a histogram", "# TYPE app_x gauge\napp_x{le=\"1\"} 1\n", "an le label outside"},
		{"quantile outside a summary", "# TYPE app_x gauge\napp_x{quantile=\"1\"} 1\n", "a quantile label outside"},
		{"a histogram without a unit", "# TYPE app_wait histogram\napp_wait_bucket{le=\"+Inf\"} 0\napp_wait_sum 0\napp_wait_count 0\n",
			"not named after its unit"},
		{"no +Inf bucket", hist("app_wait_seconds_bucket{le=\"1\"} 0\napp_wait_seconds_sum 0\napp_wait_seconds_count 0\n"), "no +Inf bucket"},
		{"not cumulative", hist("app_wait_seconds_bucket{le=\"1\"} 2\napp_wait_seconds_bucket{le=\"+Inf\"} 1\n" +
			"app_wait_seconds_sum 0\napp_wait_seconds_count 1\n"), "not cumulative"},
		{"le out of order", hist("app_wait_seconds_bucket{le=\"2\"} 0\napp_wait_seconds_bucket{le=\"1\"} 0\n" +
			"app_wait_seconds_bucket{le=\"+Inf\"} 0\napp_wait_seconds_sum 0\napp_wait_seconds_count 0\n"), "le 1 after le 2"},
		{"+Inf is not _count", hist("app_wait_seconds_bucket{le=\"+Inf\"} 2\napp_wait_seconds_sum 0\napp_wait_seconds_count 3\n"),
			"_count is 3"},
		{"no _sum", hist("app_wait_seconds_bucket{le=\"+Inf\"} 0\napp_wait_seconds_count 0\n"), "no _sum or no _count"},
		{"a bucket without le", hist("app_wait_seconds_bucket 0\napp_wait_seconds_sum 0\napp_wait_seconds_count 0\n"), "without an le label"},
		{"a bad le", hist("app_wait_seconds_bucket{le=\"x\"} 0\napp_wait_seconds_sum 0\napp_wait_seconds_count 0\n"), "is not a number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			errs := Lint(e, rules)
			for _, err := range errs {
				if strings.Contains(err.Error(), tt.want) {
					return
				}
			}
			t.Errorf("Lint: %v, want an error saying %q", errs, tt.want)
		})
	}
}
