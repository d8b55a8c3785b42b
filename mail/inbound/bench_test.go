package inbound

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"portico/sql/store"
)

// benchMail returns a reply of about textBytes of quoted text, with attachBytes of PDF
// attachments (two files) when attachBytes > 0. id makes each Message-ID unique.
func benchMail(id int, textBytes, attachBytes int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Customer %d <bench-%d@acme.test>\r\nTo: support@portico.test\r\nSubject: Re: Benchmark\r\nMessage-ID: <bench-%d@acme.test>\r\nMIME-Version: 1.0\r\n", id, id, id)
	b.WriteString("Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks, that fixed it.\r\n\r\nOn Mon, 30 Nov 2026 at 10:00, Support <support@portico.test> wrote:\r\n")
	line := "> The quick brown fox jumps over the lazy dog, and the printer keeps printing.\r\n"
	for b.Len() < textBytes {
		b.WriteString(line)
	}
	if attachBytes > 0 {
		pdf := []byte("%PDF-1.4\n" + strings.Repeat("0123456789abcdef", attachBytes/2/16))
		enc := base64.StdEncoding.EncodeToString(pdf)
		for f := 0; f < 2; f++ {
			fmt.Fprintf(&b, "--mix\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", f)
			for i := 0; i < len(enc); i += 76 {
				b.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
			}
		}
	}
	b.WriteString("--mix--\r\n")
	return []byte(b.String())
}

// BenchmarkParseAndStore measures mails per second through the whole inbound path against the
// real database: store raw (blob + row + job), parse, trim, thread and add to a ticket.
func BenchmarkParseAndStore(b *testing.B) {
	for _, c := range []struct {
		name         string
		text, attach int
	}{{"reply-20KB", 20 << 10, 0}, {"attachments-2MB", 8 << 10, 2 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			ctx := context.Background()
			raws := make([][]byte, b.N)
			for i := range raws {
				raws[i] = benchMail(i, c.text, c.attach)
			}
			b.SetBytes(int64(len(raws[0])))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h := PeekHeader(raws[i])
				m, _, err := e.s.InboundStore(ctx, store.InboundNew{Source: "lmtp", Recipient: "support@portico.test", MessageID: h.MessageID, Sender: h.Sender, Subject: h.Subject, Raw: raws[i]})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.p.Process(ctx, m.ID); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var processed int
			_ = e.s.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_mails WHERE status = 'processed'`).Scan(&processed)
			if processed != b.N {
				b.Fatalf("%d of %d mails processed", processed, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
		})
	}
}
