package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/mail/inbound"
	"portico/sql/store"
)

// mailSecurities are the choices of the IMAP security select.
var mailSecurities = []string{"tls", "starttls", "none"}

// inboxMailView is admin/inbox_mail.html's model: an inbox's email settings as a form.
type inboxMailView struct {
	InboxID   int64
	InboxName string
	Form      recordForm
	// HasPassword tells whether a password is stored (it is never shown).
	HasPassword bool
	// TestAnswer is the IMAP server's answer to Test connection; TestFailed marks a refusal.
	TestAnswer string
	TestFailed bool
	// Securities are the IMAP security choices.
	Securities []string
}

func inboxMailForm(e store.InboxEmail) recordForm {
	f := newRecordForm()
	f.Values["address"] = e.Address
	f.Values["display_name"] = e.DisplayName
	f.Values["allow_new_contacts"] = strconv.FormatBool(e.AllowNewContacts)
	f.Values["imap_enabled"] = strconv.FormatBool(e.IMAPEnabled)
	f.Values["imap_host"] = e.IMAPHost
	f.Values["imap_port"] = ""
	if e.IMAPPort != 0 {
		f.Values["imap_port"] = strconv.Itoa(e.IMAPPort)
	}
	f.Values["imap_security"] = e.IMAPSecurity
	f.Values["imap_user"] = e.IMAPUser
	f.Values["imap_folder"] = e.IMAPFolder
	f.Values["imap_move_to"] = e.IMAPMoveTo
	return f
}

func (h *Handlers) inboxMailPage(c *fiber.Ctx, status int, v inboxMailView) error {
	p := h.newPage(c, "", nil)
	p.Title = p.T("MailSettingsTitle", "Inbox", v.InboxName)
	if c.Query("saved") == "1" {
		p.Flash = p.T("Saved")
	}
	v.Securities = mailSecurities
	p.Data = v
	return h.renderAdmin(c, status, "admin/inbox_mail", p)
}

// inboxOf returns the inbox of route :id with its email settings (zero settings when none).
func (h *Handlers) inboxOf(c *fiber.Ctx) (store.InboxEmail, error) {
	id, err := pathID(c)
	if err != nil {
		return store.InboxEmail{}, err
	}
	e, err := h.Store.InboxEmailGet(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		is, lerr := h.Store.InboxList(c.UserContext())
		if lerr != nil {
			return e, lerr
		}
		for _, i := range is {
			if i.ID == id {
				return store.InboxEmail{InboxID: id, InboxName: i.Name, AllowNewContacts: true, IMAPSecurity: "tls", IMAPFolder: "INBOX"}, nil
			}
		}
		return e, store.ErrNotFound
	}
	return e, err
}

// AdminInboxMailShow shows an inbox's email settings (GET /admin/inboxes/:id/mail, admins).
func (h *Handlers) AdminInboxMailShow(c *fiber.Ctx) error {
	e, err := h.inboxOf(c)
	if err != nil {
		return err
	}
	return h.inboxMailPage(c, fiber.StatusOK, inboxMailView{InboxID: e.InboxID, InboxName: e.InboxName, Form: inboxMailForm(e), HasPassword: len(e.IMAPSecret) > 0})
}

// mailSettingsFrom reads the settings form over e; a password field left empty keeps the stored
// password (nil secret).
func (h *Handlers) mailSettingsFrom(c *fiber.Ctx, e store.InboxEmail) (store.InboxEmail, recordForm, error) {
	e.Address = strings.TrimSpace(c.FormValue("address"))
	e.DisplayName = strings.TrimSpace(c.FormValue("display_name"))
	e.AllowNewContacts = c.FormValue("allow_new_contacts") == "true"
	e.IMAPEnabled = c.FormValue("imap_enabled") == "true"
	e.IMAPHost = strings.TrimSpace(c.FormValue("imap_host"))
	e.IMAPPort, _ = strconv.Atoi(strings.TrimSpace(c.FormValue("imap_port")))
	e.IMAPSecurity = c.FormValue("imap_security")
	e.IMAPUser = strings.TrimSpace(c.FormValue("imap_user"))
	e.IMAPFolder = strings.TrimSpace(c.FormValue("imap_folder"))
	e.IMAPMoveTo = strings.TrimSpace(c.FormValue("imap_move_to"))
	f := inboxMailForm(e)
	f.Values["imap_port"] = c.FormValue("imap_port")
	e.IMAPSecret = nil
	if pw := c.FormValue("imap_password"); pw != "" {
		sealed, err := h.MailSealer.Seal(inbound.SecretSlug(e.InboxID), map[string]string{"password": pw})
		if err != nil {
			return e, f, err
		}
		e.IMAPSecret = sealed
	}
	return e, f, nil
}

// AdminInboxMailUpdate saves an inbox's email settings (POST /admin/inboxes/:id/mail, admins):
// audited by the store (the password only as set/none); 422 with the form on a refusal.
func (h *Handlers) AdminInboxMailUpdate(c *fiber.Ctx) error {
	e, err := h.inboxOf(c)
	if err != nil {
		return err
	}
	had := len(e.IMAPSecret) > 0
	e, f, err := h.mailSettingsFrom(c, e)
	if err != nil {
		return err
	}
	if _, err := h.Store.InboxEmailSet(c.UserContext(), *StaffOf(c), e); err != nil {
		if refusal(h.newPage(c, "", nil), err, &f, "address") {
			return h.inboxMailPage(c, fiber.StatusUnprocessableEntity, inboxMailView{InboxID: e.InboxID, InboxName: e.InboxName, Form: f, HasPassword: had})
		}
		return err
	}
	return Redirect(c, "/admin/inboxes/"+strconv.FormatInt(e.InboxID, 10)+"/mail?saved=1")
}

// AdminInboxMailTest connects to the IMAP server with the settings in the form (the stored
// password when the field is empty) without saving them, and shows the server's exact answer
// (POST /admin/inboxes/:id/mail/test, admins).
func (h *Handlers) AdminInboxMailTest(c *fiber.Ctx) error {
	stored, err := h.inboxOf(c)
	if err != nil {
		return err
	}
	e, f, err := h.mailSettingsFrom(c, stored)
	if err != nil {
		return err
	}
	pw := c.FormValue("imap_password")
	if pw == "" && len(stored.IMAPSecret) > 0 {
		m, err := h.MailSealer.Open(inbound.SecretSlug(stored.InboxID), stored.IMAPSecret)
		if err != nil {
			return err
		}
		pw = m["password"]
	}
	if e.IMAPPort == 0 {
		e.IMAPPort = map[string]int{"tls": 993}[e.IMAPSecurity]
		if e.IMAPPort == 0 {
			e.IMAPPort = 143
		}
	}
	if e.IMAPFolder == "" {
		e.IMAPFolder = "INBOX"
	}
	v := inboxMailView{InboxID: e.InboxID, InboxName: stored.InboxName, Form: f, HasPassword: len(stored.IMAPSecret) > 0}
	if e.IMAPHost == "" {
		v.Form.Errors["imap_host"] = LocaleOf(c).T("MailIMAPIncomplete")
		return h.inboxMailPage(c, fiber.StatusUnprocessableEntity, v)
	}
	answer, err := inbound.TestIMAP(c.UserContext(), e, pw)
	if err != nil {
		v.TestAnswer, v.TestFailed = err.Error(), true
	} else {
		v.TestAnswer = answer
	}
	return h.inboxMailPage(c, fiber.StatusOK, v)
}

// heldRow is one row of the held-mail list.
type heldRow struct {
	store.InboundMail
	// ReasonText is the translated reason; Time and TimeISO the receipt time for display.
	ReasonText, Time, TimeISO string
}

// AdminMailList lists held and failed inbound mail with their reasons, each with Retry and
// Discard (GET /admin/mail, staff).
func (h *Handlers) AdminMailList(c *fiber.Ctx) error {
	list, err := h.Store.InboundList(c.UserContext(), store.InboundListFilter{})
	if err != nil {
		return err
	}
	p := h.newPage(c, "", nil)
	rows := make([]heldRow, len(list))
	for i, m := range list {
		rows[i] = heldRow{InboundMail: m, ReasonText: mailReason(p, m.Reason)}
		rows[i].Time, rows[i].TimeISO = p.Locale.Times(m.ReceivedAt)
	}
	p.Title = p.T("HeldMail")
	switch c.Query("done") {
	case "retry":
		p.Flash = p.T("MailRetried")
	case "discard":
		p.Flash = p.T("MailDiscarded")
	}
	p.Data = rows
	return h.renderAdmin(c, fiber.StatusOK, "admin/mail_held", p)
}

// mailReason translates a reason code ("" and unknown codes: the generic text).
func mailReason(p *Page, code string) string {
	id := "MailReason_" + code
	if t := p.T(id); t != id && code != "" {
		return t
	}
	return p.T("MailReason_other")
}

// AdminMailRetry processes a held or failed mail again (POST /admin/mail/:id/retry, staff;
// audited).
func (h *Handlers) AdminMailRetry(c *fiber.Ctx) error { return h.mailAct(c, true) }

// AdminMailDiscard discards a held or failed mail (POST /admin/mail/:id/discard, staff;
// audited).
func (h *Handlers) AdminMailDiscard(c *fiber.Ctx) error { return h.mailAct(c, false) }

func (h *Handlers) mailAct(c *fiber.Ctx, retry bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if retry {
		err = h.Store.InboundRetry(c.UserContext(), *StaffOf(c), id)
	} else {
		err = h.Store.InboundDiscard(c.UserContext(), *StaffOf(c), id)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	if retry {
		return Redirect(c, "/admin/mail?done=retry")
	}
	return Redirect(c, "/admin/mail?done=discard")
}

// AdminMailRaw downloads the full original of an inbound mail (GET /admin/mail/:id/raw, staff
// only: the raw message may hold what the trimmed text left out).
func (h *Handlers) AdminMailRaw(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	m, err := h.Store.InboundGet(c.UserContext(), id)
	if err != nil {
		return err
	}
	raw, err := h.Store.InboundRaw(c.UserContext(), m)
	if err != nil {
		return err
	}
	return sendRaw(c, m.ID, raw)
}

// AdminMessageOriginal downloads the full original mail a ticket message came in as (GET
// /admin/messages/:id/original, staff only).
func (h *Handlers) AdminMessageOriginal(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	m, raw, err := h.Store.InboundRawForMessage(c.UserContext(), id)
	if err != nil {
		return err
	}
	return sendRaw(c, m.ID, raw)
}

func sendRaw(c *fiber.Ctx, id int64, raw []byte) error {
	c.Set(fiber.HeaderContentType, "message/rfc822")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="mail-`+strconv.FormatInt(id, 10)+`.eml"`)
	c.Set("X-Content-Type-Options", "nosniff")
	return c.Send(raw)
}
