package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// FilterRule is one admin ticket-filter rule: only tickets whose property matches reach a
// customer (list, detail, search, counts, attachments and live updates alike), because every
// rule joins the one Viewer predicate.
type FilterRule struct {
	// Field is pipeline, stage, priority, category, channel, or property.<name> (a custom property).
	Field string `json:"field"`
	// Op is is, is_not, any_of or none_of.
	Op string `json:"op"`
	// Values are compared case-insensitively.
	Values []string `json:"values"`
}

// Filter operators, as written in the setting ("priority is any of high, urgent").
var filterOps = []struct{ text, op string }{
	{"is none of", "none_of"},
	{"is any of", "any_of"},
	{"is not", "is_not"},
	{"is", "is"},
}

var filterFields = map[string]bool{"pipeline": true, "stage": true, "priority": true, "category": true, "channel": true}

// ParseFilterRules reads the ticket_filters setting: one rule per line, "FIELD OP VALUES", with
// OP one of "is", "is not", "is any of", "is none of" and VALUES comma-separated; blank lines
// and lines starting with # are ignored. Errors name the line.
func ParseFilterRules(text string) ([]FilterRule, error) {
	var out []FilterRule
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		field, rest, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("line %d: write FIELD OP VALUES, e.g. \"pipeline is Support\"", i+1)
		}
		field = strings.ToLower(field)
		if !filterFields[field] && !(strings.HasPrefix(field, "property.") && len(field) > len("property.")) {
			return nil, fmt.Errorf("line %d: unknown field %q (pipeline, stage, priority, category, channel or property.NAME)", i+1, field)
		}
		rest = strings.TrimSpace(rest)
		var r *FilterRule
		for _, o := range filterOps {
			if v, ok := cutPrefixFold(rest, o.text+" "); ok {
				r = &FilterRule{Field: field, Op: o.op}
				for _, val := range strings.Split(v, ",") {
					if val = strings.TrimSpace(val); val != "" {
						r.Values = append(r.Values, val)
					}
				}
				break
			}
		}
		if r == nil || len(r.Values) == 0 {
			return nil, fmt.Errorf("line %d: write FIELD OP VALUES with OP one of: is, is not, is any of, is none of", i+1)
		}
		if (r.Op == "is" || r.Op == "is_not") && len(r.Values) > 1 {
			return nil, fmt.Errorf("line %d: %q takes one value; use \"is any of\" or \"is none of\" for several", i+1, strings.ReplaceAll(r.Op, "_", " "))
		}
		out = append(out, *r)
	}
	return out, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return strings.TrimSpace(s[len(prefix):]), true
	}
	return "", false
}

// filterSQL returns the predicate over alias t for the rules, appending arguments to args
// ("" when there are no rules). Values are always parameters, never SQL text.
func filterSQL(rules []FilterRule, args *[]any) string {
	var parts []string
	for _, r := range rules {
		lower := make([]string, len(r.Values))
		for i, v := range r.Values {
			lower[i] = strings.ToLower(v)
		}
		*args = append(*args, lower)
		vals := "$" + strconv.Itoa(len(*args))
		var expr string
		switch r.Field {
		case "pipeline":
			expr = "(SELECT lower(name) FROM pipelines WHERE id = t.pipeline_id)"
		case "stage":
			expr = "(SELECT lower(name) FROM stages WHERE id = t.stage_id)"
		case "priority":
			expr = "lower(t.priority)"
		case "category":
			expr = "lower(t.category)"
		case "channel":
			expr = "lower(t.channel)"
		default:
			*args = append(*args, strings.TrimPrefix(r.Field, "property."))
			expr = "lower(coalesce(t.properties->>$" + strconv.Itoa(len(*args)) + ", ''))"
		}
		p := expr + " = ANY(" + vals + "::text[])"
		if r.Op == "is_not" || r.Op == "none_of" {
			p = "NOT (" + p + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " AND ")
}

// ticketFiltersDef stores the rules as JSON and shows them as the lines an admin types.
func ticketFiltersDef() SettingDef {
	return SettingDef{Key: "ticket_filters", Section: "tickets", Kind: SettingTextarea, Default: "",
		parse: func(v string) (any, error) {
			rules, err := ParseFilterRules(strings.ReplaceAll(v, "\r\n", "\n"))
			if err != nil {
				return nil, fmt.Errorf("%v", err)
			}
			if rules == nil {
				rules = []FilterRule{}
			}
			return rules, nil
		},
		apply: func(s *Settings, raw json.RawMessage) error { return json.Unmarshal(raw, &s.TicketFilters) },
		format: func(s Settings) string {
			lines := make([]string, len(s.TicketFilters))
			for i, r := range s.TicketFilters {
				op := r.Op
				for _, o := range filterOps {
					if o.op == r.Op {
						op = o.text
					}
				}
				lines[i] = r.Field + " " + op + " " + strings.Join(r.Values, ", ")
			}
			return strings.Join(lines, "\n")
		},
	}
}
