package handlers

import (
	"fmt"
	"html/template"
	"io"

	"github.com/gofiber/fiber/v2/utils"
	"github.com/gofiber/template/html/v2"
	"github.com/valyala/bytebufferpool"
)

// Views is the fiber.Views of the portal: the templates of gofiber/template/html, parsed once
// at start, rendered without the engine's locking. The engine embeds a page in its layout by
// rebinding the layout's "embed" function for each render, under an exclusive lock held for the
// whole render, so that every full page waited for every other render, fragments included
// (issue 18). Here a page is rendered first into a pooled buffer and the layout prints it as
// Page.Body ({{.Body}}): no shared state changes after Load, so renders run in parallel.
type Views struct {
	// Engine parses the templates (its Load) and keeps its function map.
	*html.Engine
	templates map[string]*template.Template
}

// NewViews returns Views over engine (not yet loaded: call Load, as fiber does at start).
func NewViews(engine *html.Engine) *Views { return &Views{Engine: engine} }

// Load parses the templates (the engine's Load) and indexes them by name. Errors: a template
// that does not parse.
func (v *Views) Load() error {
	if err := v.Engine.Load(); err != nil {
		return err
	}
	v.Engine.Mutex.RLock()
	defer v.Engine.Mutex.RUnlock()
	m := map[string]*template.Template{}
	for _, t := range v.Engine.Templates.Templates() {
		m[t.Name()] = t
	}
	v.templates = m
	return nil
}

// Render writes template name with binding to out; with a layout, the template is rendered
// first and the layout then prints it as the binding's Body (binding must be a *Page).
// Errors: an unknown template or layout, a layout without a *Page, or the template's own.
func (v *Views) Render(out io.Writer, name string, binding any, layout ...string) error {
	t := v.templates[name]
	if t == nil {
		return fmt.Errorf("render: template %s does not exist", name)
	}
	if len(layout) == 0 || layout[0] == "" {
		return t.Execute(out, binding)
	}
	lay := v.templates[layout[0]]
	if lay == nil {
		return fmt.Errorf("render: layout %s does not exist", layout[0])
	}
	p, ok := binding.(*Page)
	if !ok {
		return fmt.Errorf("render: layout %s needs a *Page, got %T", layout[0], binding)
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	if err := t.Execute(buf, p); err != nil {
		return err
	}
	// The layout prints Body before buf goes back to the pool: no copy needed, but the string
	// must not outlive this call.
	p.Body = template.HTML(utils.UnsafeString(buf.B))
	err := lay.Execute(out, p)
	p.Body = ""
	return err
}
