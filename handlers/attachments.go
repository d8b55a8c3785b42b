package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portico/sql/store"
)

// LocalCSRFPending marks a multipart upload whose CSRF token travels in the body (plain forms
// without JavaScript): the middleware leaves the check to readMessageForm, which refuses any file
// before a valid _csrf field.
const LocalCSRFPending = "portico.csrf_pending"

// errCSRF is returned when a streamed form carries no valid CSRF token before its files.
var errCSRF = fiber.NewError(fiber.StatusForbidden, "csrf")

// ErrBadForm is returned when a multipart body cannot be parsed: no boundary, truncated, a
// malformed part header (RFC 7578). The client's fault: 400, never a 500 or a 503.
var ErrBadForm = fiber.NewError(fiber.StatusBadRequest, "form")

// partReader remembers a read error of a multipart part, so that a file whose body breaks off
// is told apart from a blob store that failed while storing it.
type partReader struct {
	r   io.Reader
	err error
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
}

// messageForm is a parsed message POST: text fields and the streamed files.
type messageForm struct {
	Fields map[string]string
	Files  *store.UploadBatch
	// FileError is the catalogue id of a refused file ("" = none).
	FileError string
}

const maxFieldBytes = store.MaxReplyRunes*4 + 1024

// readMessageForm reads a message form. urlencoded bodies are read as usual; multipart bodies are
// streamed part by part, each file straight into the blob store (never whole in memory), with
// the type sniffed and the limits applied on the way. The caller must Discard the batch unless
// the message was committed. Errors: errCSRF, or an I/O error (e.g. the client went away: every
// blob written so far is deleted).
func (h *Handlers) readMessageForm(c *fiber.Ctx, limits store.UploadLimits) (*messageForm, error) {
	f := &messageForm{Fields: map[string]string{}}
	c.Locals(localFormFields, f.Fields) // what was typed survives an error (Unavailable)
	ctype, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype == fiber.MIMEMultipartForm && (err != nil || params["boundary"] == "") {
		return nil, ErrBadForm
	}
	if ctype != fiber.MIMEMultipartForm {
		args := c.Request().PostArgs()
		for k, v := range args.All() {
			f.Fields[string(k)] = string(v)
		}
		return f, nil
	}
	pending, _ := c.Locals(LocalCSRFPending).(bool)
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	batch, err := h.Store.NewUploadBatch(limits)
	if err != nil {
		return nil, err
	}
	f.Files = batch
	mr := multipart.NewReader(body, params["boundary"])
	ctx := c.UserContext()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			batch.Discard(ctx)
			return nil, fmt.Errorf("%w: %v", ErrBadForm, err)
		}
		name := part.FormName()
		if !CleanText(name) || !CleanText(part.FileName()) {
			batch.Discard(ctx)
			return nil, errBadText
		}
		if part.FileName() == "" && name != "files" {
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes))
			if err != nil {
				batch.Discard(ctx)
				return nil, fmt.Errorf("%w: %v", ErrBadForm, err)
			}
			if !CleanText(string(b)) || !CleanText(name) {
				batch.Discard(ctx)
				return nil, errBadText
			}
			f.Fields[name] = string(b)
			if name == "_csrf" && pending {
				if !CheckCSRF(c, string(b)) {
					batch.Discard(ctx)
					return nil, errCSRF
				}
				pending = false
			}
			continue
		}
		if pending { // a file before the token: refuse without storing a byte
			batch.Discard(ctx)
			return nil, errCSRF
		}
		if part.FileName() == "" { // an empty file input
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		if f.FileError != "" {
			_, _ = io.Copy(io.Discard, io.LimitReader(part, limits.MaxMessageBytes+1))
			continue
		}
		pr := &partReader{r: part}
		if err := batch.Add(ctx, part.FileName(), pr); err != nil {
			var ve *store.ValidationError
			if pr.err != nil { // the body broke off, not the store
				batch.Discard(ctx)
				return nil, fmt.Errorf("%w: %v", ErrBadForm, pr.err)
			}
			if errors.As(err, &ve) {
				f.FileError = ve.Fields["files"]
				_, _ = io.Copy(io.Discard, io.LimitReader(part, limits.MaxMessageBytes+1))
				continue
			}
			batch.Discard(ctx)
			return nil, err
		}
	}
	if pending {
		batch.Discard(ctx)
		return nil, errCSRF
	}
	if f.FileError != "" {
		batch.Discard(ctx)
	}
	return f, nil
}

// attachmentView is one attachment ready to print.
type attachmentView struct {
	Href, Name, Size, Thumb string
}

// attachmentText translates an attachment message (limits, refusals) with the settings' limits
// written in the viewer's locale. With attachments switched off (attachment_max_files=0) every
// refused file reads AttachmentsOff: there is no limit to name.
func attachmentText(p *Page, st store.Settings, id string) string {
	if st.AttachmentMaxFiles <= 0 && id != "AttachmentLimits" {
		id = "AttachmentsOff"
	}
	return p.T(id, "Count", st.AttachmentMaxFiles, "File", p.Locale.Size(st.AttachmentMaxFileBytes), "Total", p.Locale.Size(st.AttachmentMaxMessageBytes))
}

// attachmentViews links attachments to the customer download route (the Viewer-scoped one).
func attachmentViews(p *Page, as []store.Attachment) []attachmentView {
	return attachmentLinks(p, as, "/attachments/")
}

// attachmentLinks formats attachments with links under route ("/attachments/" for customers,
// "/admin/attachments/" for staff) and inline thumbnails for images.
func attachmentLinks(p *Page, as []store.Attachment, route string) []attachmentView {
	out := make([]attachmentView, len(as))
	for i, a := range as {
		href := route + strconv.FormatInt(a.ID, 10)
		out[i] = attachmentView{Href: href, Name: a.FileName, Size: p.Locale.Size(a.SizeBytes)}
		if a.IsImage() {
			out[i].Thumb = href + "?inline=1"
		}
	}
	return out
}

// AttachmentDownload streams an attachment the viewer may see (GET /attachments/:id): always
// as a download (Content-Disposition: attachment, nosniff), except images asked for inline as
// thumbnails. Outside the viewer's scope: 404.
func (h *Handlers) AttachmentDownload(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, r, err := h.Store.AttachmentGetForViewer(c.UserContext(), h.viewer(c, ""), id)
	if err != nil {
		return err
	}
	return sendAttachment(c, a, r)
}

// sendAttachment streams an attachment's bytes as a download (inline only for an image asked
// for with ?inline=1), never sniffed, sandboxed, never cached by shared caches.
func sendAttachment(c *fiber.Ctx, a store.Attachment, r io.ReadCloser) error {
	disp := "attachment"
	if c.Query("inline") == "1" && a.IsImage() {
		disp = "inline"
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderContentDisposition, disp+`; filename="`+asciiName(a.FileName)+`"; filename*=UTF-8''`+url.PathEscape(a.FileName))
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Set("Cache-Control", "private, no-store")
	return c.SendStream(r, int(a.SizeBytes))
}

// asciiName is the file name with anything outside printable ASCII replaced, for the legacy
// filename= parameter (RFC 6266 §4.3).
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			b.WriteByte('_')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// StaffAttachmentDownload streams any attachment to staff (GET /admin/attachments/:id, behind
// requireStaff): files of internal notes too, with the same headers as AttachmentDownload
// (attachment unless an image asked for inline, nosniff, sandbox CSP). Unknown id: 404.
func (h *Handlers) StaffAttachmentDownload(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	a, r, err := h.Store.AttachmentGetForStaff(c.UserContext(), id)
	if err != nil {
		return err
	}
	return sendAttachment(c, a, r)
}
