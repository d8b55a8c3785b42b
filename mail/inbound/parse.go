// Package inbound turns mail that customers send into ticket messages: it parses RFC 5322
// messages with github.com/emersion/go-message (any charset through go-message/charset,
// quoted-printable and base64, HTML-only mail turned into text), trims the quoted previous
// message and the signature from replies, recognises auto-replies and DSN bounces, signs and
// checks the ticket-bound reply token of Portico's reply address, and receives mail over LMTP/
// SMTP (github.com/emersion/go-smtp) and IMAP (github.com/emersion/go-imap/v2). Every mail is
// stored raw first (store.InboundStore), then processed by a job (Processor).
package inbound

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // ISO-8859-x, Windows-125x, ISO-2022-JP, …
	"github.com/emersion/go-message/mail"
	"github.com/k3a/html2text"
	"github.com/microcosm-cc/bluemonday"
)

// Limits bound what Parse accepts. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxHeaderBytes bounds the top-level header block (bytes).
	MaxHeaderBytes int64
	// MaxParts bounds the number of MIME parts, MaxDepth their nesting.
	MaxParts, MaxDepth int
	// MaxTextBytes bounds the decoded text and HTML bodies kept (bytes, each).
	MaxTextBytes int64
}

// DefaultLimits: a 256 KiB header, 200 parts, 12 levels of nesting, 1 MiB of text.
var DefaultLimits = Limits{MaxHeaderBytes: 256 << 10, MaxParts: 200, MaxDepth: 12, MaxTextBytes: 1 << 20}

// Refusals: a mail Parse cannot turn into a message. Each is a stable reason code (the
// inbound_mails.reason column and the catalogue key "MailReason"+code).
var (
	ErrNoFrom       = &ParseError{Code: "no_from", Detail: "the mail has no usable From address"}
	ErrHeaderTooBig = &ParseError{Code: "header_too_large", Detail: "the mail's header is larger than allowed"}
	ErrTooManyParts = &ParseError{Code: "mime_bomb", Detail: "the mail has too many MIME parts"}
	ErrTooDeep      = &ParseError{Code: "mime_bomb", Detail: "the mail's MIME parts are nested too deeply"}
)

// ParseError is a refusal with a reason code and a human detail (English, for the log and the
// agents' list of held mail, where the code is translated).
type ParseError struct{ Code, Detail string }

func (e *ParseError) Error() string { return "inbound mail: " + e.Detail }

// Address is a mailbox: a display name and an address (lower-cased domain kept as written).
type Address struct{ Name, Addr string }

// File is an attachment or inline image of a mail.
type File struct {
	Name, ContentType, ContentID string
	// Inline is true for parts shown inside the HTML (Content-Disposition inline with an id).
	Inline bool
	Data   []byte
}

// Bounce is what a DSN (RFC 3464 multipart/report; report-type=delivery-status) reports.
type Bounce struct {
	// Recipients are the addresses that failed (Final-Recipient / Original-Recipient).
	Recipients []string
	// Hard is true when the action is "failed" with a permanent 5.x.x status.
	Hard bool
	// Status is the first RFC 3463 status code ("5.1.1"), Diagnostic the server's words.
	Status, Diagnostic string
}

// Mail is a parsed inbound mail.
type Mail struct {
	MessageID             string
	InReplyTo, References []string
	From                  Address
	// Recipients are To, Cc, Delivered-To and X-Original-To addresses, in that order.
	Recipients []string
	Subject    string
	Date       time.Time
	// Text is the full text of the mail (the text/plain part, else the HTML part as text).
	Text string
	// HTML is the sanitised HTML part ("" when the mail has none), kept for display.
	HTML  string
	Files []File
	// Auto is why the mail is automatic ("" for a person's mail): see AutoReason.
	Auto string
	// Bounce is set for delivery-status reports.
	Bounce *Bounce
	// Problems are non-fatal oddities (unknown charset, a broken part) noted for agents.
	Problems []string

	// Cc are the Cc addresses alone (they may become the ticket's participants).
	Cc []string
}

var htmlPolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}()

// Parse reads one RFC 5322 message. It never panics on hostile input: a header over the limit,
// too many or too deeply nested parts, or no From address return a *ParseError; broken MIME
// keeps whatever text could be read and notes the problem.
func Parse(raw []byte, lim Limits) (*Mail, error) {
	lim = lim.withDefaults()
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: lim.MaxHeaderBytes})
	m := &Mail{}
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		if strings.Contains(err.Error(), "exceeds maximum size") {
			return nil, ErrHeaderTooBig
		}
		if e == nil {
			return nil, &ParseError{Code: "malformed", Detail: "the mail's header cannot be read: " + err.Error()}
		}
	}
	if err != nil {
		m.Problems = append(m.Problems, err.Error())
	}
	h := mail.Header{Header: e.Header}
	if err := m.readHeader(h); err != nil {
		return nil, err
	}
	w := &walker{m: m, lim: lim}
	if err := w.walk(e, 0); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, pe
		}
		m.Problems = append(m.Problems, "broken MIME: "+err.Error())
	}
	if m.Text == "" && w.html != "" {
		m.Text = HTMLToText(w.html)
	}
	if w.html != "" {
		m.HTML = htmlPolicy.Sanitize(w.html)
	}
	m.Text = cleanText(m.Text)
	m.Auto = AutoReason(h.Header, m.Subject, m.From.Addr)
	if m.Bounce != nil && m.Auto == "" {
		m.Auto = "bounce"
	}
	return m, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultLimits.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultLimits.MaxTextBytes
	}
	return l
}

// valid returns s as valid UTF-8 without NUL or other C0 controls but tab and newline.
func valid(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' {
			if r == '\r' {
				return -1
			}
			return ' '
		}
		return r
	}, s)
}

func (m *Mail) readHeader(h mail.Header) error {
	from, err := h.AddressList("From")
	if err != nil || len(from) == 0 {
		// A broken From ("Name <addr" or raw 8-bit) may still hold an address: try leniently.
		if a := lenientAddress(h.Get("From")); a != "" {
			from = []*mail.Address{{Address: a}}
		}
	}
	if len(from) == 0 || !strings.Contains(from[0].Address, "@") {
		return ErrNoFrom
	}
	m.From = Address{Name: valid(from[0].Name), Addr: valid(strings.TrimSpace(from[0].Address))}
	if id, err := h.MessageID(); err == nil {
		m.MessageID = valid(id)
	}
	m.InReplyTo, _ = h.MsgIDList("In-Reply-To")
	m.References, _ = h.MsgIDList("References")
	for _, k := range []string{"To", "Cc"} {
		if l, err := h.AddressList(k); err == nil {
			for _, a := range l {
				m.Recipients = append(m.Recipients, valid(a.Address))
				if k == "Cc" {
					m.Cc = append(m.Cc, valid(a.Address))
				}
			}
		}
	}
	for _, k := range []string{"Delivered-To", "X-Original-To", "Envelope-To"} {
		for _, v := range h.Values(k) {
			if a := lenientAddress(v); a != "" {
				m.Recipients = append(m.Recipients, a)
			}
		}
	}
	subj, err := h.Subject()
	if err != nil {
		subj = h.Get("Subject")
	}
	m.Subject = strings.TrimSpace(strings.Join(strings.Fields(valid(subj)), " "))
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	return nil
}

// lenientAddress finds something address-like in a broken header value.
func lenientAddress(v string) string {
	v = valid(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '"' }) {
		if at := strings.IndexByte(f, '@'); at > 0 && at < len(f)-1 && utf8.ValidString(f) {
			return strings.Trim(f, "<>")
		}
	}
	return ""
}

type walker struct {
	m     *Mail
	lim   Limits
	parts int
	html  string
}

func (w *walker) walk(e *message.Entity, depth int) error {
	w.parts++
	if w.parts > w.lim.MaxParts {
		return ErrTooManyParts
	}
	if depth > w.lim.MaxDepth {
		return ErrTooDeep
	}
	ct, params, err := e.Header.ContentType()
	if err != nil || ct == "" {
		ct = "text/plain"
	}
	if mr := e.MultipartReader(); mr != nil {
		if ct == "multipart/report" && strings.EqualFold(params["report-type"], "delivery-status") {
			w.m.Bounce = &Bounce{}
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if p == nil {
				if err != nil {
					return err
				}
				return nil
			}
			if err != nil {
				w.m.Problems = append(w.m.Problems, err.Error())
			}
			if err := w.walk(p, depth+1); err != nil {
				return err
			}
		}
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if name != "" {
		if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
			name = dec
		}
	}
	cid := strings.Trim(e.Header.Get("Content-Id"), "<> ")
	body := io.LimitReader(e.Body, 64<<20)
	switch {
	case ct == "message/delivery-status" && w.m.Bounce != nil:
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		parseDSN(b, w.m.Bounce)
		return nil
	case (ct == "text/plain" || ct == "text/html") && disp != "attachment" && name == "":
		b, err := io.ReadAll(io.LimitReader(body, w.lim.MaxTextBytes))
		if err != nil && len(b) == 0 {
			w.m.Problems = append(w.m.Problems, "unreadable text part: "+err.Error())
			return nil
		}
		s := valid(string(b))
		if ct == "text/plain" {
			if w.m.Text == "" {
				if strings.EqualFold(params["format"], "flowed") {
					s = unflow(s, strings.EqualFold(params["delsp"], "yes"))
				}
				w.m.Text = s
			}
		} else if w.html == "" {
			w.html = s
		}
		return nil
	case ct == "message/rfc822" && disp != "attachment" && w.m.Bounce != nil:
		// The returned original of a bounce: not a file of the customer's.
		return nil
	case strings.HasPrefix(ct, "multipart/"):
		return nil
	}
	data, err := io.ReadAll(body)
	if err != nil {
		w.m.Problems = append(w.m.Problems, "unreadable attachment "+name+": "+err.Error())
		return nil
	}
	if len(data) == 0 {
		return nil
	}
	if name == "" {
		name = "attachment" + extFor(ct)
	}
	w.m.Files = append(w.m.Files, File{Name: valid(name), ContentType: ct, ContentID: valid(cid),
		Inline: disp == "inline" || (disp == "" && cid != ""), Data: data})
	return nil
}

func extFor(ct string) string {
	switch ct {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "application/pdf":
		return ".pdf"
	case "message/rfc822":
		return ".eml"
	case "text/plain":
		return ".txt"
	}
	return ""
}

// parseDSN reads the per-message and per-recipient field blocks of a message/delivery-status
// body (RFC 3464 §2.2, 2.3).
func parseDSN(b []byte, out *Bounce) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))))
	for i := 0; i < 100; i++ {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			rcpt := h.Get("Final-Recipient")
			if rcpt == "" {
				rcpt = h.Get("Original-Recipient")
			}
			if _, a, ok := strings.Cut(rcpt, ";"); ok {
				action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
				status := strings.TrimSpace(h.Get("Status"))
				if action == "failed" || action == "delayed" || action == "" {
					out.Recipients = append(out.Recipients, strings.TrimSpace(a))
					if out.Status == "" {
						out.Status, out.Diagnostic = status, valid(strings.TrimSpace(h.Get("Diagnostic-Code")))
					}
					if action == "failed" && strings.HasPrefix(status, "5") {
						out.Hard = true
					}
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676 §4.2).
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if l != "-- " && strings.HasSuffix(l, " ") && !strings.HasPrefix(l, ">") && i < len(lines)-1 {
			if delsp {
				l = l[:len(l)-1]
			}
			b.WriteString(l)
			continue
		}
		b.WriteString(l)
		if i < len(lines)-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// HTMLToText turns an HTML body into readable text (links kept as "text <url>"), with
// github.com/k3a/html2text.
func HTMLToText(html string) string {
	return html2text.HTML2TextWithOptions(html, html2text.WithUnixLineBreaks(), html2text.WithLinksInnerText())
}

// cleanText normalises line ends, trims trailing spaces and collapses runs of blank lines.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\u00a0")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// AutoReason reports why a mail is automatic, from its header (RFC 3834 Auto-Submitted, the
// Precedence values bulk, junk, list and auto_reply, X-Autoreply/X-Autorespond, Microsoft's
// X-Auto-Response-Suppress, list headers, a null sender) and out-of-office subjects in the five
// portal languages. "" means a person wrote it.
func AutoReason(h message.Header, subject, from string) string {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return "auto-submitted"
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list", "auto_reply":
		return "precedence"
	}
	if h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" || h.Get("X-Autogenerated") != "" {
		return "x-autoreply"
	}
	if v := strings.ToLower(h.Get("X-Auto-Response-Suppress")); strings.Contains(v, "all") || strings.Contains(v, "oof") || strings.Contains(v, "autoreply") {
		return "x-auto-response-suppress"
	}
	if h.Get("List-Id") != "" || h.Get("List-Unsubscribe") != "" {
		return "list"
	}
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "<>" {
		return "null-sender"
	}
	local, _, _ := strings.Cut(strings.ToLower(from), "@")
	switch local {
	case "mailer-daemon", "postmaster":
		return "mailer-daemon"
	}
	s := strings.ToLower(subject)
	for _, p := range oooSubjects {
		if strings.HasPrefix(s, p) || strings.Contains(s, p+":") {
			return "out-of-office"
		}
	}
	return ""
}

// oooSubjects start (or prefix) the subjects of out-of-office and automatic replies.
var oooSubjects = []string{
	"out of office", "automatic reply", "auto reply", "autoreply", "auto-reply", "away from the office",
	"afwezig", "automatisch antwoord", "afwezigheidsbericht",
	"abwesenheitsnotiz", "automatische antwort", "abwesend",
	"absence du bureau", "réponse automatique", "reponse automatique", "absent du bureau",
	"respuesta automática", "respuesta automatica", "fuera de la oficina", "ausente",
}

// String returns a one-line description of f for logs.
func (f File) String() string {
	return fmt.Sprintf("%s (%s, %d bytes)", f.Name, f.ContentType, len(f.Data))
}
