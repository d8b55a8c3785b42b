package inbound

import (
	"regexp"
	"slices"
	"strings"
)

// Portico's own reply trimmer. No maintained Go library was reachable: the Go port of
// Discourse's email_reply_trimmer that Forgejo maintains (code.forgejo.org/forgejo/reply) is
// not served by the module proxy we may use, and the GitHub ports (dimiro1/reply, mailstrip,
// recapco/emailreplyparser) are unmaintained since 2016–2020. The rules below follow those
// libraries' published test suites (see testdata/README.md) and are checked against the corpus
// in testdata/mail.

// quoteHeaders match the line (or 2–3 joined lines: Gmail wraps long ones) that introduces the
// quoted previous message, in the five portal languages and the common clients.
var quoteHeaders = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^on\b.{4,300}\bwrote:?$`),                                               // en (Gmail, Apple Mail, Thunderbird, K-9)
	regexp.MustCompile(`(?i)^op\b.{4,300}\b(schreef|heeft .{1,100} geschreven)\b.{0,200}:$`),        // nl
	regexp.MustCompile(`(?i)^am\b.{4,300}\bschrieb\b.{0,200}:$`),                                    // de
	regexp.MustCompile(`(?i)^.{1,200}\bschrieb am\b.{4,300}:$`),                                     // de (Outlook web)
	regexp.MustCompile(`(?i)^le\b.{4,300}\ba écrit ?:$`),                                            // fr
	regexp.MustCompile(`(?i)^el\b.{4,300}\bescribió:?$`),                                            // es
	regexp.MustCompile(`(?i)^.{0,200}(@|\d).{0,200}\b(wrote|schreef|schrieb|escribió|a écrit ?):$`), // "Name <a@b> wrote:"
	regexp.MustCompile(`(?i)^-{2,}\s*(original message|forwarded message|ursprüngliche nachricht|oorspronkelijk bericht|origineel bericht|message d'origine|mensaje original)\s*-{2,}$`),
}

// forwardHeaders mark a forwarded message, whose text is the customer's content and stays.
var forwardHeaders = regexp.MustCompile(`(?i)^-{2,}\s*(forwarded message|weitergeleitete nachricht|doorgestuurd bericht|message transféré|mensaje reenviado)\s*-{2,}$|^begin forwarded message:$`)

// outlookFrom/outlookSent detect Outlook's header block ("From: … / Sent: … / To: … / Subject:").
var (
	outlookFrom = regexp.MustCompile(`(?i)^\*?(from|von|van|de|da)\s?:\*?\s.+`)
	outlookSent = regexp.MustCompile(`(?i)^\*?(sent|gesendet|verzonden|envoyé|enviado|date|datum|fecha|verstuurd|to|an|aan|à|para|subject|betreff|onderwerp|objet|asunto)\s?:\*?\s?.*`)
	separator   = regexp.MustCompile(`^(_{8,}|-{8,})$`)
)

// signatures start a signature block; everything from that line on is dropped.
var signatures = []*regexp.Regexp{
	regexp.MustCompile(`^-- ?$`),
	regexp.MustCompile(`(?i)^(sent|envoyé|enviado|verzonden|gesendet|verstuurd) (from|de|desde|vanaf|von|met|avec) (my|mon|mi|mijn|meinem) .{1,40}$`),
	regexp.MustCompile(`(?i)^von meinem .{1,40} gesendet$`),
	regexp.MustCompile(`(?i)^get outlook for (ios|android)$`),
	regexp.MustCompile(`(?i)^(sent from|envoyé depuis|enviado desde) (mail|courrier) (for|pour|para) windows.{0,10}$`),
}

// Trim returns the new part of a reply: the text before the quoted previous message (top
// posting), the text after it when the mail starts with the quote (bottom posting), or both
// when the customer answered between quoted blocks (inline), without the signature. A quote
// header followed by unmarked text (Outlook, HTML mail turned into text) ends the new part. A
// text with nothing left after trimming is returned whole, so no customer text is ever lost.
func Trim(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if fwd := firstMatch(lines, func(i int) bool { return forwardHeaders.MatchString(strings.TrimSpace(lines[i])) }); fwd >= 0 {
		// A forward: the forwarded message is the customer's content; trim only a reply above it.
		if h, _ := quoteHeaderAt(lines[:fwd]); h >= 0 && hasContent(lines[:h]) {
			return finish(lines[:h], text)
		}
		return finish(stripSignature(lines), text)
	}
	return finish(stripSignature(trimLines(lines, 0)), text)
}

func trimLines(lines []string, depth int) []string {
	h, hEnd := quoteHeaderAt(lines)
	if o := outlookBlockAt(lines); o >= 0 && (h < 0 || o < h) {
		return lines[:o] // Outlook quotes without markers: everything below is the old mail
	}
	if h < 0 {
		if q := firstMatch(lines, func(i int) bool { return isQuoted(lines[i]) && restQuotedOrBlank(lines[i:]) }); q >= 0 {
			return lines[:q]
		}
		return lines
	}
	j := hEnd + 1
	for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
		j++
	}
	if j >= len(lines) || !isQuoted(lines[j]) {
		return lines[:h] // unmarked quote: cut here
	}
	for j < len(lines) && (isQuoted(lines[j]) || strings.TrimSpace(lines[j]) == "") {
		j++
	}
	rest := lines[j:]
	if !hasContent(rest) || depth > 20 {
		return lines[:h]
	}
	// Text after the quoted block: a bottom or inline answer.
	out := append(slices.Clone(lines[:h]), "")
	return append(out, trimLines(rest, depth+1)...)
}

func finish(lines []string, whole string) string {
	out := strings.TrimSpace(strings.Join(lines, "\n"))
	if out == "" {
		return strings.TrimSpace(whole)
	}
	return out
}

func firstMatch(lines []string, f func(int) bool) int {
	for i := range lines {
		if f(i) {
			return i
		}
	}
	return -1
}

func isQuoted(l string) bool { return strings.HasPrefix(strings.TrimLeft(l, " "), ">") }

func hasContent(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && !isQuoted(l) {
			return true
		}
	}
	return false
}

func restQuotedOrBlank(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && !isQuoted(l) {
			return false
		}
	}
	return true
}

// quoteHeaderAt returns the first and last line of the first quote header, trying each line
// alone and joined with the next one or two (wrapped "On …, Name <a@b>\nwrote:"); -1, -1 when
// there is none.
func quoteHeaderAt(lines []string) (int, int) {
	for i := range lines {
		if j := headerFrom(lines, i); j >= 0 {
			// "Hi,\nOn … wrote:" joins into a match too: prefer the latest start that matches.
			for i+1 <= j {
				if j2 := headerFrom(lines, i+1); j2 >= 0 {
					i, j = i+1, j2
					continue
				}
				break
			}
			return i, j
		}
	}
	return -1, -1
}

// headerFrom returns the last line of a quote header starting at line i, or -1.
func headerFrom(lines []string, i int) int {
	joined := ""
	for j := i; j < len(lines) && j < i+3; j++ {
		l := strings.TrimSpace(lines[j])
		if l == "" {
			return -1
		}
		if joined == "" {
			joined = l
		} else {
			joined += " " + l
		}
		if len(joined) > 500 {
			return -1
		}
		for _, re := range quoteHeaders {
			if re.MatchString(joined) {
				return j
			}
		}
	}
	return -1
}

// outlookBlockAt finds Outlook's header block: a From: line followed within five lines by two
// more header lines (Sent/To/Subject in any of the five languages), optionally after a line of
// underscores.
func outlookBlockAt(lines []string) int {
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if separator.MatchString(l) && i+1 < len(lines) && outlookFrom.MatchString(strings.TrimSpace(lines[i+1])) {
			return i
		}
		if !outlookFrom.MatchString(l) {
			continue
		}
		n := 0
		for j := i + 1; j < len(lines) && j <= i+5; j++ {
			if outlookSent.MatchString(strings.TrimSpace(lines[j])) {
				n++
			}
		}
		if n >= 2 {
			return i
		}
	}
	return -1
}

func stripSignature(lines []string) []string {
	for i, l := range lines {
		t := strings.TrimRight(l, " \t")
		if t == "-- " || t == "--" {
			return lines[:i]
		}
		for _, re := range signatures[1:] {
			if re.MatchString(strings.TrimSpace(l)) {
				return lines[:i]
			}
		}
	}
	return lines
}
