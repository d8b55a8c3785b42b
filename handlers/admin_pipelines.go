package handlers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// AdminPipelineList shows pipelines and stages with their forms (GET /admin/pipelines).
func (h *Handlers) AdminPipelineList(c *fiber.Ctx) error {
	return h.pipelinesPage(c, fiber.StatusOK, nil, 0)
}

func (h *Handlers) pipelinesPage(c *fiber.Ctx, status int, f *recordForm, formOf int64) error {
	ps, err := h.Store.PipelineList(c.UserContext())
	if err != nil {
		return err
	}
	if f == nil {
		ff := newRecordForm()
		f = &ff
	}
	p := h.newPage(c, "", nil)
	p.Title, p.Data = p.T("Pipelines"), map[string]any{"Pipelines": ps, "Form": f, "FormOf": int(formOf), "Saved": c.Query("saved") == "1"}
	return h.renderAdmin(c, status, "admin/pipelines", p)
}

// AdminPipelineCreate creates a pipeline (POST /admin/pipelines, field name).
func (h *Handlers) AdminPipelineCreate(c *fiber.Ctx) error {
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if _, err := h.Store.PipelineCreate(c.UserContext(), *StaffOf(c), f.Values["name"]); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, 0)
		}
		return err
	}
	return Redirect(c, "/admin/pipelines?saved=1")
}

// AdminStageCreate adds a stage (POST /admin/pipelines/:id/stages, fields name, closed).
func (h *Handlers) AdminStageCreate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if _, err := h.Store.StageCreate(c.UserContext(), *StaffOf(c), id, f.Values["name"], c.FormValue("closed") == "true"); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, id)
		}
		return err
	}
	return Redirect(c, "/admin/pipelines?saved=1")
}

// AdminStageUpdate renames, reorders and opens/closes a stage (POST /admin/stages/:id, fields
// name, position, closed); tickets in the stage follow.
func (h *Handlers) AdminStageUpdate(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	pos, perr := strconv.Atoi(strings.TrimSpace(c.FormValue("position")))
	f := newRecordForm()
	f.Values["name"] = c.FormValue("name")
	if perr != nil || pos < 0 || pos > 1000 {
		f.Errors["position"] = h.newPage(c, "", nil).T("PositionInvalid")
		return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, -id)
	}
	if err := h.Store.StageUpdate(c.UserContext(), *StaffOf(c), id, f.Values["name"], pos, c.FormValue("closed") == "true"); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "name") {
			return h.pipelinesPage(c, fiber.StatusUnprocessableEntity, &f, -id)
		}
		return err
	}
	if err := h.Store.StageSetConfirmation(c.UserContext(), *StaffOf(c), id, c.FormValue("confirm") == "true"); err != nil {
		return err
	}
	return Redirect(c, "/admin/pipelines?saved=1")
}
