package partials

import (
	"fmt"
	"html/template"
	"sort"
	"strings"
	"text/template/parse"
)

// Check reports every {{template "name"}} call in set whose template is not defined, as one
// error listing "caller → missing" pairs, or nil. html/template only finds a missing partial
// when a page using it is rendered; the server runs Check at start so that a missing or
// misspelt partial fails the boot instead (as miniflux checks its templates at start).
func Check(set *template.Template) error {
	var missing []string
	for _, t := range set.Templates() {
		if t.Tree == nil || t.Tree.Root == nil {
			continue
		}
		walk(t.Tree.Root, func(name string) {
			if set.Lookup(name) == nil {
				missing = append(missing, t.Name()+" → "+name)
			}
		})
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("templates: missing partials: %s", strings.Join(missing, ", "))
}

// walk calls fn with the name of every template node below n.
func walk(n parse.Node, fn func(string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, fn)
		}
	case *parse.TemplateNode:
		fn(n.Name)
	case *parse.IfNode:
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.RangeNode:
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.WithNode:
		walk(n.List, fn)
		walk(n.ElseList, fn)
	}
}
