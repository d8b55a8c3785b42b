package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
	"github.com/jackc/pgx/v5"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Attachment is a stored file of a message, as listed to a viewer.
type Attachment struct {
	ID          int64
	MessageID   int64
	TicketID    int64
	FileName    string
	ContentType string
	SizeBytes   int64
	SHA256      string
	BlobKey     string
	CreatedAt   time.Time
}

// IsImage reports whether the attachment may be shown inline as a thumbnail.
func (a Attachment) IsImage() bool {
	switch a.ContentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// allowedTypes maps each accepted content type (sniffed from the bytes, never trusted from the
// client) to the file-name extensions that may carry it. A file whose extension does not belong
// to its sniffed type is refused: a disguised type never gets through.
var allowedTypes = map[string][]string{
	"image/png":       {".png"},
	"image/jpeg":      {".jpg", ".jpeg", ".jfif"},
	"image/gif":       {".gif"},
	"image/webp":      {".webp"},
	"application/pdf": {".pdf"},
	"text/plain":      {".txt", ".log", ".md", ".csv", ".json", ".xml", ".yaml", ".yml", ""},
	"text/csv":        {".csv"},
	"application/zip": {".zip"},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   {".docx"},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {".xlsx"},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
	"application/vnd.oasis.opendocument.text":                                   {".odt"},
	"application/vnd.oasis.opendocument.spreadsheet":                            {".ods"},
	"application/msword":       {".doc"},
	"application/vnd.ms-excel": {".xls"},
	"message/rfc822":           {".eml"},
}

// Upload refusals, as catalogue message IDs (returned inside *ValidationError, field "files").
const (
	UploadTooLarge     = "AttachmentTooLarge"
	UploadTooMuch      = "AttachmentsTooLarge"
	UploadTooMany      = "AttachmentsTooMany"
	UploadTypeRefused  = "AttachmentTypeRefused"
	UploadTypeMismatch = "AttachmentTypeMismatch"
	UploadEmpty        = "AttachmentEmpty"
)

// SanitizeFileName returns a safe display/download name: the base name only (no directories,
// so no path traversal), invisible format characters (Unicode Cf: bidi overrides such as U+202E,
// zero-width spaces) removed so a name shows what it is, control and quote characters replaced, at most 150 characters, never
// empty or a dot name.
func SanitizeFileName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.Is(unicode.Cf, r): // bidi overrides, zero-width characters: dropped
		case r == utf8.RuneError, unicode.IsControl(r), r == '"', r == '/', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|':
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	name = strings.TrimLeft(name, ".")
	if r := []rune(name); len(r) > 150 {
		ext := path.Ext(name)
		if len([]rune(ext)) > 10 {
			ext = ""
		}
		name = string(r[:150-len([]rune(ext))]) + ext
	}
	if name == "" {
		name = "file"
	}
	return name
}

// CleanName returns a display name (a contact's or a staff user's) without control characters
// and invisible format characters (Unicode Cf: bidi controls such as U+202E RIGHT-TO-LEFT
// OVERRIDE, zero-width spaces and joiners), which could make a name show as something it is not;
// surrounding space trimmed.
func CleanName(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s))
}

// UploadLimits bound one message's attachments (from the portal settings).
type UploadLimits struct {
	MaxFileBytes, MaxMessageBytes, MaxFiles int64
}

// LimitsFrom returns the upload limits of the settings.
func LimitsFrom(st Settings) UploadLimits {
	return UploadLimits{MaxFileBytes: st.AttachmentMaxFileBytes, MaxMessageBytes: st.AttachmentMaxMessageBytes, MaxFiles: st.AttachmentMaxFiles}
}

// UploadBatch writes one message's files to the blob store as they stream in, and deletes them
// again unless Commit is called: a failed or abandoned upload leaves no blob behind.
type UploadBatch struct {
	bucket *blob.Bucket
	limits UploadLimits
	total  int64
	Files  []Attachment
	done   bool
}

// NewUploadBatch starts a batch under limits. Errors: no blob store configured.
func (s *Store) NewUploadBatch(limits UploadLimits) (*UploadBatch, error) {
	if s.Blobs == nil {
		return nil, errors.New("attachments: no blob store configured")
	}
	return &UploadBatch{bucket: s.Blobs, limits: limits}, nil
}

// limitedReader fails once more than n bytes were read.
type limitedReader struct {
	r     io.Reader
	n     int64
	over  bool
	count int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.count += int64(n)
	if l.count > l.n {
		l.over = true
		return n, errTooLarge
	}
	return n, err
}

var errTooLarge = errors.New("too large")

// Add streams one file into the blob store: type sniffed from the first bytes and checked
// against the allow-list and the file name's extension, size counted against the per-file and
// per-message limits, sha256 computed on the way. Errors: *ValidationError (field "files",
// message IDs Upload…) or an I/O error; on error nothing of this file remains stored.
func (b *UploadBatch) Add(ctx context.Context, name string, r io.Reader) error {
	if int64(len(b.Files)) >= b.limits.MaxFiles {
		return Invalid("files", UploadTooMany)
	}
	name = SanitizeFileName(name)
	head := make([]byte, 3072)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	head = head[:n]
	if n == 0 {
		return Invalid("files", UploadEmpty)
	}
	mt := mimetype.Detect(head)
	ctype := ""
	for m := mt; m != nil; m = m.Parent() {
		if _, ok := allowedTypes[m.String()]; ok {
			ctype = m.String()
			break
		}
		base, _, _ := strings.Cut(m.String(), ";")
		if _, ok := allowedTypes[base]; ok {
			ctype = base
			break
		}
	}
	if ctype == "" {
		return Invalid("files", UploadTypeRefused)
	}
	ext := strings.ToLower(path.Ext(name))
	okExt := false
	for _, e := range allowedTypes[ctype] {
		okExt = okExt || e == ext
	}
	if !okExt {
		return Invalid("files", UploadTypeMismatch)
	}
	limit := b.limits.MaxFileBytes
	if left := b.limits.MaxMessageBytes - b.total; left < limit {
		limit = left
	}
	key := "attachments/" + time.Now().UTC().Format("2006/01/02") + "/" + randomKey()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: ctype})
	if err != nil {
		return fmt.Errorf("attachments: %w", err)
	}
	h := sha256.New()
	lr := &limitedReader{r: io.MultiReader(strings.NewReader(string(head)), r), n: limit}
	size, err := io.Copy(io.MultiWriter(w, h), lr)
	if err != nil {
		cancel() // a cancelled context makes Close discard the blob
		_ = w.Close()
		if lr.over {
			if limit < b.limits.MaxFileBytes {
				return Invalid("files", UploadTooMuch)
			}
			return Invalid("files", UploadTooLarge)
		}
		return fmt.Errorf("attachments: upload interrupted: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("attachments: %w", err)
	}
	b.total += size
	b.Files = append(b.Files, Attachment{FileName: name, ContentType: ctype, SizeBytes: size, SHA256: hex.EncodeToString(h.Sum(nil)), BlobKey: key})
	return nil
}

// Discard deletes every blob of the batch unless it was committed. Safe to call twice; use it
// in a defer.
func (b *UploadBatch) Discard(ctx context.Context) {
	if b == nil || b.done {
		return
	}
	b.done = true
	for _, f := range b.Files {
		_ = b.bucket.Delete(context.WithoutCancel(ctx), f.BlobKey)
	}
}

func randomKey() string {
	var buf [16]byte
	_, _ = cryptoRand(buf[:])
	return hex.EncodeToString(buf[:])
}

// insertAttachments records the batch's files for a message inside tx and marks the batch
// committed (its blobs now belong to rows).
func insertAttachments(ctx context.Context, tx pgx.Tx, b *UploadBatch, ticketID, messageID int64) ([]Attachment, error) {
	if b == nil {
		return nil, nil
	}
	out := make([]Attachment, len(b.Files))
	for i, f := range b.Files {
		f.TicketID, f.MessageID = ticketID, messageID
		err := tx.QueryRow(ctx, `INSERT INTO attachments (message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`, messageID, ticketID, f.FileName, f.ContentType, f.SizeBytes, f.SHA256, f.BlobKey).
			Scan(&f.ID, &f.CreatedAt)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// AttachmentGetForViewer returns an attachment of a public message on a ticket in the viewer's
// scope, and a reader of its bytes (the caller closes it). Errors: ErrNotFound (also for files
// of internal notes, other customers' tickets, or a blob gone missing).
func (s *Store) AttachmentGetForViewer(ctx context.Context, v Viewer, id int64) (Attachment, io.ReadCloser, error) {
	var a Attachment
	args := []any{id}
	scope := v.detailScope(&args)
	err := s.Pool.QueryRow(ctx, `SELECT a.id, a.message_id, a.ticket_id, a.file_name, a.content_type, a.size_bytes, a.sha256, a.blob_key, a.created_at
		FROM attachments a
		JOIN messages m ON m.id = a.message_id AND m.kind = 'public'
		JOIN tickets t ON t.id = a.ticket_id
		WHERE a.id = $1 AND ($`+strconv.Itoa(len(args)+1)+` OR m.conversation_id = (
			SELECT cv.id FROM conversations cv WHERE cv.ticket_id = t.id ORDER BY cv.created_at, cv.id LIMIT 1))
		AND `+scope, append(args, v.AllThreads)...).
		Scan(&a.ID, &a.MessageID, &a.TicketID, &a.FileName, &a.ContentType, &a.SizeBytes, &a.SHA256, &a.BlobKey, &a.CreatedAt)
	if err != nil {
		return a, nil, fmt.Errorf("attachment %d: %w", id, notFound(err))
	}
	if s.Blobs == nil {
		return a, nil, fmt.Errorf("attachment %d: %w", id, ErrNotFound)
	}
	r, err := s.openBlobReader(ctx, a.BlobKey)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return a, nil, fmt.Errorf("attachment %d blob: %w", id, ErrNotFound)
		}
		return a, nil, err
	}
	return a, r, nil
}

// attachmentsOf returns the attachments of the given messages, keyed by message id.
func attachmentsOf(ctx context.Context, q querier, messageIDs []int64) (map[int64][]Attachment, error) {
	if len(messageIDs) == 0 {
		return map[int64][]Attachment{}, nil
	}
	rows, err := q.Query(ctx, `SELECT id, message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key, created_at
		FROM attachments WHERE message_id = ANY($1) ORDER BY id`, messageIDs)
	if err != nil {
		return nil, err
	}
	return collectAttachments(rows)
}

// collectAttachments reads attachment rows (id, message_id, ticket_id, file_name, content_type,
// size_bytes, sha256, blob_key, created_at) into lists by message id, in row order, and closes rows.
func collectAttachments(rows pgx.Rows) (map[int64][]Attachment, error) {
	defer rows.Close()
	out := map[int64][]Attachment{}
	for rows.Next() {
		var a Attachment
		if err := rows.Scan(&a.ID, &a.MessageID, &a.TicketID, &a.FileName, &a.ContentType, &a.SizeBytes, &a.SHA256, &a.BlobKey, &a.CreatedAt); err != nil {
			return nil, err
		}
		out[a.MessageID] = append(out[a.MessageID], a)
	}
	return out, rows.Err()
}

// AttachmentGetForStaff returns ANY attachment (public replies' and internal notes' files alike)
// and a reader of its bytes (the caller closes it), for the staff download route only
// (/admin/attachments/:id, behind requireStaff). It applies no Viewer scope on purpose: never
// call it from a customer path — customers use AttachmentGetForViewer. Errors: ErrNotFound (also
// for a blob gone missing).
func (s *Store) AttachmentGetForStaff(ctx context.Context, id int64) (Attachment, io.ReadCloser, error) {
	var a Attachment
	err := s.Pool.QueryRow(ctx, `SELECT id, message_id, ticket_id, file_name, content_type, size_bytes, sha256, blob_key, created_at
		FROM attachments WHERE id = $1`, id).
		Scan(&a.ID, &a.MessageID, &a.TicketID, &a.FileName, &a.ContentType, &a.SizeBytes, &a.SHA256, &a.BlobKey, &a.CreatedAt)
	if err != nil {
		return a, nil, fmt.Errorf("staff attachment %d: %w", id, notFound(err))
	}
	r, err := s.openBlob(ctx, a)
	return a, r, err
}

// openBlobReader opens the blob key for reading. Opening is bounded by ctx (the request's
// deadline: a frozen blob store is a 503); reading is not, because the bytes are streamed to the
// client after the handler has returned and the request's context has ended. Close releases it.
func (s *Store) openBlobReader(ctx context.Context, key string) (io.ReadCloser, error) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	r, err := s.Blobs.NewReader(rctx, key, nil)
	if !stop() { // ctx ended while opening
		if err == nil {
			r.Close()
			err = ctx.Err()
		}
		return nil, err
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return &cancelOnClose{ReadCloser: r, cancel: cancel}, nil
}

// cancelOnClose is a reader whose context ends when it is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close closes the reader and ends its context.
func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// openBlob opens an attachment's bytes. Errors: ErrNotFound when no blob store is configured or
// the blob is gone.
func (s *Store) openBlob(ctx context.Context, a Attachment) (io.ReadCloser, error) {
	if s.Blobs == nil {
		return nil, fmt.Errorf("attachment %d: %w", a.ID, ErrNotFound)
	}
	r, err := s.openBlobReader(ctx, a.BlobKey)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("attachment %d blob: %w", a.ID, ErrNotFound)
		}
		return nil, err
	}
	return r, nil
}
